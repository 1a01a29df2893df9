"""Public tests for HW1 part 3 (lm.py): small inputs whose answers were worked out by hand.

The hidden tests compare every function with the solution on larger random inputs, check
that attention is causal through gradients, and train your transformer on text from a
known Markov chain (its perplexity must come close to the chain's entropy-rate floor), so
passing these is necessary but not sufficient. Each is worth half a point:
answers memorised for these inputs earn no more, and the hidden tests, which re-check
every function on other inputs, carry the points.
"""

import math

import pytest
import torch

from autograder.testing import assert_close

LINES = [" = Valkyria = ", " ", " The game @-@ play , the <unk> . ", " The end "]
WORDS = ["=", "Valkyria", "=", "<eos>", "<eos>", "The", "game", "@-@", "play", ",", "the", "<unk>", ".", "<eos>",
         "The", "end", "<eos>"]
VOCAB = {"=": 0, "Valkyria": 1, "<eos>": 2, "The": 3, "game": 4, "@-@": 5, "play": 6, ",": 7, "the": 8, "<unk>": 9,
         ".": 10, "end": 11}
ATTENTION_SHAPES = {"qkv.weight": (48, 16), "qkv.bias": (48,), "proj.weight": (16, 16), "proj.bias": (16,)}
F64 = torch.float64


def long(*values: int) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.long)


def pair(result, name: str) -> tuple:
    assert isinstance(result, (tuple, list)) and len(result) == 2, \
        f"{name} must return a tuple of two values, got {type(result).__name__}"
    return tuple(result)


def parameters(module) -> dict:
    """{name: shape} of a module's parameters (its buffers, such as a saved mask, left out)."""
    state = module.state_dict(keep_vars=True)
    assert isinstance(state, dict), f"state_dict() should be a dict, got {type(state).__name__}"
    return {name: tuple(value.shape) for name, value in state.items() if value.requires_grad}


def attention_weights(seed: int = 0) -> dict:
    g = torch.Generator().manual_seed(seed)
    return {name: 0.3 * torch.randn(shape, generator=g, dtype=F64) for name, shape in ATTENTION_SHAPES.items()}


@pytest.mark.points(0.5)
def test_tokenize_and_vocab(student):
    """tokenize adds <eos> after every line; build_vocab numbers words by first occurrence."""
    assert_close(student.lm.tokenize(LINES), WORDS, name="tokens")
    assert_close(student.lm.build_vocab(LINES), VOCAB, name="vocabulary")


@pytest.mark.points(0.5)
def test_encode_splits(student):
    """encode_splits builds the vocabulary from train only; other splits' unknown words become <unk>."""
    vocab, ids = pair(student.lm.encode_splits({"train": LINES, "valid": [" The new game . "]}), "encode_splits")
    assert_close(vocab, VOCAB, name="vocabulary")
    assert_close(ids, {"train": long(0, 1, 0, 2, 2, 3, 4, 5, 6, 7, 8, 9, 10, 2, 3, 11, 2),
                       "valid": long(3, 9, 4, 10, 2)}, name="ids")


@pytest.mark.points(0.5)
def test_batchify(student):
    """batchify puts contiguous streams in columns and drops the tokens that do not fill a row."""
    batches = student.lm.batchify(torch.arange(11), 3, "cpu")
    assert_close(batches, torch.tensor([[0, 3, 6], [1, 4, 7], [2, 5, 8]]), name="batchify(0..10, 3)")


@pytest.mark.points(0.5)
def test_get_batch(student):
    """get_batch returns batch-first (inputs, targets), targets one step later; the last batch is shorter."""
    source = torch.tensor([[0, 5], [1, 6], [2, 7], [3, 8], [4, 9]])  # batchify(0..9, 2)
    x, y = pair(student.lm.get_batch(source, 0, 3), "get_batch")
    assert_close(x, torch.tensor([[0, 1, 2], [5, 6, 7]]), name="inputs at i = 0")
    assert_close(y, torch.tensor([[1, 2, 3], [6, 7, 8]]), name="targets at i = 0")
    x, y = pair(student.lm.get_batch(source, 3, 3), "get_batch")
    assert_close(x, torch.tensor([[3], [8]]), name="inputs at i = 3 (one row left)")
    assert_close(y, torch.tensor([[4], [9]]), name="targets at i = 3")


@pytest.mark.points(0.5)
def test_ngram_counts(student):
    """ngram_counts returns the sorted distinct n-grams and their counts."""
    data = long(1, 2, 1, 2, 3)
    ngrams, counts = pair(student.lm.ngram_counts(data, 2), "ngram_counts")
    assert_close(ngrams, torch.tensor([[1, 2], [2, 1], [2, 3]]), name="bigrams")
    assert_close(counts, long(2, 1, 1), name="bigram counts")
    ngrams, counts = pair(student.lm.ngram_counts(data, 1), "ngram_counts")
    assert_close(ngrams, torch.tensor([[1], [2], [3]]), name="unigrams")
    assert_close(counts, long(2, 2, 1), name="unigram counts")


@pytest.mark.points(0.5)
def test_ngram_log_probs(student):
    """Add-one bigram of [0 1 0 1 2]: p(1|0) = 3/5, p(2|1) = 2/5, and p(2|2) = 1/3 for the unseen context."""
    got = student.lm.ngram_log_probs(long(0, 1, 0, 1, 2), long(0, 1, 2, 2), 2, 3, 1.0)
    assert_close(got, torch.tensor([3 / 5, 2 / 5, 1 / 3], dtype=F64).log(), name="log-probabilities")


@pytest.mark.points(0.5)
def test_perplexity(student):
    """Uniform logits over 5 words give perplexity 5; probabilities 3/4 and 1/4 give 1 / sqrt(3/16)."""
    uniform = student.lm.perplexity(torch.zeros(2, 3, 5), torch.zeros(2, 3, dtype=torch.long))
    assert_close(uniform, 5.0, rtol=1e-6, name="perplexity of uniform logits")
    logits = torch.tensor([[0.0, math.log(3)], [math.log(3), 0.0]], dtype=F64)
    got = student.lm.perplexity(logits, long(1, 1))
    assert_close(got, 1 / math.sqrt(3 / 16), name="perplexity")


@pytest.mark.points(0.5)
def test_attention_parameters_and_shape(student):
    """CausalSelfAttention(16, 4) has exactly the parameters qkv and proj (buffers aside) and keeps (B, T, 16)."""
    attention = student.lm.CausalSelfAttention(16, 4)
    assert_close(parameters(attention), ATTENTION_SHAPES, name="parameter shapes")
    out = attention(torch.randn(2, 5, 16))
    assert isinstance(out, torch.Tensor), f"expected a tensor, got {type(out).__name__}"
    assert tuple(out.shape) == (2, 5, 16), f"expected shape (2, 5, 16), got {tuple(out.shape)}"


@pytest.mark.points(0.5)
def test_attention_equal_scores_average_the_past(student):
    """With k = 0 every score is equal, so position t outputs proj(mean of v over s <= t)."""
    weights = attention_weights()
    weights["qkv.weight"][16:32] = 0.0  # the keys' rows: k = 0 for every position
    weights["qkv.bias"][16:32] = 0.0
    attention = student.lm.CausalSelfAttention(16, 4)
    attention.double()
    attention.load_state_dict(weights, strict=False)  # strict=False: a mask buffer of yours may stay
    attention.eval()
    x = torch.randn(2, 5, 16, generator=torch.Generator().manual_seed(1), dtype=F64)
    v = x @ weights["qkv.weight"][32:].T + weights["qkv.bias"][32:]  # (B, T, 16)
    past_mean = v.cumsum(dim=1) / torch.arange(1, 6, dtype=F64).view(1, 5, 1)
    expected = past_mean @ weights["proj.weight"].T + weights["proj.bias"]
    assert_close(attention(x), expected, name="attention output")


@pytest.mark.points(0.5)
def test_block_parameters_and_residual(student):
    """Block(16, 4) has the documented parameters; with every Linear set to zero it returns its input."""
    block = student.lm.Block(16, 4)
    expected = {"ln1.weight": (16,), "ln1.bias": (16,), "ln2.weight": (16,), "ln2.bias": (16,),
                "mlp.fc.weight": (64, 16), "mlp.fc.bias": (64,), "mlp.proj.weight": (16, 64), "mlp.proj.bias": (16,),
                **{f"attn.{k}": v for k, v in ATTENTION_SHAPES.items()}}
    assert_close(parameters(block), expected, name="parameter shapes")
    zeros = {name: torch.zeros(shape) for name, shape in expected.items() if not name.startswith("ln")}
    block.load_state_dict(zeros, strict=False)  # LayerNorms stay at their initial identity
    x = torch.randn(2, 5, 16)
    assert_close(block(x), x, name="output with zero sublayers (only the residual path is left)")


@pytest.mark.points(0.5)
def test_sample_next_token_top_1(student):
    """sample_next_token with top_k = 1 always returns each row's largest logit, as int64 (B,)."""
    logits = torch.tensor([[0.1, 2.0, -1.0, 0.5], [3.0, 2.9, 0.0, 0.0], [-2.0, -1.0, -3.0, -0.5]])
    for seed in range(5):
        got = student.lm.sample_next_token(logits, 1.0, 1, torch.Generator().manual_seed(seed))
        assert_close(got, long(1, 0, 3), name=f"tokens (generator seed {seed})")


@pytest.mark.points(0.5)
def test_sample_greedy_crops_context(student):
    """sample with top_k = 1 keeps the prompt and adds the greedy word, the model reading at most max_len words."""
    # no blocks (only given code) and an untied head, so the next word depends on the last word and its position
    model = student.lm.TransformerLM(vocab_size=7, d_model=8, n_heads=2, n_layers=0, max_len=4, tie_weights=False,
                                     seed=3)
    model.eval()
    prompt = long(1, 2, 3)
    out = student.lm.sample(model, prompt, 6, 1.0, 1, torch.Generator().manual_seed(0))
    assert isinstance(out, torch.Tensor), f"expected a tensor, got {type(out).__name__}"
    assert tuple(out.shape) == (9,), f"expected shape (9,): the prompt and 6 new words, got {tuple(out.shape)}"
    assert_close(out[:3], prompt, name="the prompt at the start")
    for t in range(3, 9):
        context = out[max(0, t - 4) : t].view(1, -1)  # the last max_len = 4 words
        greedy = int(model(context)[0, -1].argmax())
        assert int(out[t]) == greedy, \
            f"word {t}: got {int(out[t])}, but the greedy choice given the last 4 words is {greedy}"
