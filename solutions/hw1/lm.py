"""HW1 part 3: autoregressive language models of WikiText-2, from word counts to a small transformer.

A language model gives the probability of a text one word at a time,

    p(w_1, ..., w_N) = prod_t p(w_t | w_1, ..., w_{t-1}),

and is scored by its perplexity on held-out text, exp(mean_t -log p(w_t | w_<t)): the number
of words it is, on average, as unsure as a uniform choice among. This file builds
(1) the data pipeline: words -> ids -> batches of (inputs, targets),
(2) an n-gram model with add-alpha smoothing, the classic baseline, and
(3) a decoder-only transformer (GPT): you write the causal self-attention and the block
around it; the model, the training loop and the evaluation are given.

Conventions: token ids are int64 tensors; every function keeps the device of its inputs
(or takes `device`), and nothing here calls .cuda() itself. Text comes as a list of lines
without their newline characters, as `wikitext.load_wikitext` returns them; corpus.py writes
Markov-chain text in the same format, with a known best perplexity.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

EOS = "<eos>"  # marks the end of every line
UNK = "<unk>"  # WikiText's own token for rare words; also what unseen words become


# -----------------------------------------------------------------------------
# Data: words -> ids -> batches

def tokenize(lines: list[str]) -> list[str]:
    """The words of `lines`, in order, with `<eos>` after every line (empty lines too).

    A line's words are `line.split()`: WikiText separates every token, punctuation
    included, by spaces. So [' = Title = ', ' ', ' It was .'] gives
    ['=', 'Title', '=', '<eos>', '<eos>', 'It', 'was', '.', '<eos>'].
    """
    return [word for line in lines for word in line.split() + [EOS]]


def build_vocab(lines: list[str]) -> dict[str, int]:
    """The vocabulary of `lines`: each distinct word of `tokenize(lines)` -> its id.

    Ids are given in order of first occurrence (the first word gets 0, the next new word
    1, ...), so the vocabulary is a deterministic function of the text. `<eos>` and
    `<unk>` are ordinary words here: they get ids where they first occur.
    """
    vocab: dict[str, int] = {}
    for word in tokenize(lines):
        vocab.setdefault(word, len(vocab))  # a new word gets the next id
    return vocab


def encode(lines: list[str], vocab: dict[str, int]) -> torch.Tensor:
    """The ids of `tokenize(lines)`, a 1-D int64 tensor (N,).

    A word missing from `vocab` is encoded as the id of `<unk>` (a KeyError if the
    vocabulary has no `<unk>`): a model only ever predicts words of its vocabulary.
    """
    return torch.tensor([vocab[w] if w in vocab else vocab[UNK] for w in tokenize(lines)], dtype=torch.long)


def encode_splits(splits: dict[str, list[str]]) -> tuple[dict[str, int], dict[str, torch.Tensor]]:
    """(vocab, ids): the vocabulary of `splits['train']` only, and every split encoded with it.

    `splits` maps split names ('train', 'valid', 'test', ...) to their lines. Building the
    vocabulary from the held-out splits too would let the model know which words exist
    there: its perplexity would no longer be an honest estimate.
    """
    vocab = build_vocab(splits["train"])
    return vocab, {name: encode(lines, vocab) for name, lines in splits.items()}


def batchify(data: torch.Tensor, batch_size: int, device: str | torch.device = "cpu") -> torch.Tensor:
    """Cut the stream `data` (N,) into `batch_size` contiguous streams, as columns, on `device`.

    Returns (N // batch_size, batch_size): column b is data[b * n : (b + 1) * n] with
    n = N // batch_size; the last N % batch_size tokens are dropped. With data = 0..9 and
    batch_size 2 the columns are 0..4 and 5..9. Each column is read top to bottom, so
    consecutive batches continue each other's text.
    """
    n = data.shape[0] // batch_size  # tokens per stream
    return data[: n * batch_size].view(batch_size, n).t().contiguous().to(device)  # (n, B)


def get_batch(source: torch.Tensor, i: int, seq_len: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(inputs, targets) for rows i, i+1, ... of `source` (T, B), batch first: both (B, L).

    inputs are rows i .. i+L-1 and targets the rows one step later, i+1 .. i+L (targets[b, t]
    is the word that follows inputs[b, t]), with L = min(seq_len, T - 1 - i): the last batch
    of a pass may be shorter.
    """
    L = min(seq_len, source.shape[0] - 1 - i)
    inputs = source[i : i + L]  # (L, B)
    targets = source[i + 1 : i + 1 + L]  # (L, B), shifted by one
    return inputs.t().contiguous(), targets.t().contiguous()  # (B, L) each


# -----------------------------------------------------------------------------
# n-gram baseline: p(w | the n - 1 previous words), counted and smoothed

def ngram_counts(data: torch.Tensor, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The distinct n-grams of `data` (N,) and how often each occurs.

    Returns (ngrams, counts): ngrams (M, n) int64, one row per distinct run of n
    consecutive ids, rows sorted lexicographically (by the first id, then the second, ...);
    counts (M,) int64. There are N - n + 1 n-grams in all (counted with overlaps).
    Hint: `Tensor.unfold` and `torch.unique(dim=0)`; no Python loop over the data.
    """
    windows = data.unfold(0, n, 1)  # (N - n + 1, n): every run of n consecutive ids
    ngrams, counts = torch.unique(windows, dim=0, return_counts=True)  # unique sorts the rows
    return ngrams, counts


def ngram_log_probs(train: torch.Tensor, data: torch.Tensor, n: int, vocab_size: int,
                    alpha: float = 1.0) -> torch.Tensor:
    """log p(data[t] | data[t-n+1 .. t-1]) for t = n-1 .. N-1, float64 (N - n + 1,).

    The n-gram model of `train` with add-alpha smoothing: for a context h of n - 1 words,

        p(w | h) = (c(h, w) + alpha) / (c(h) + alpha * V),

    where c(h, w) counts the n-gram (h, w) in `train` and c(h) = sum_w c(h, w) counts h as
    the start of an n-gram (its occurrences in train[:-1]); V = vocab_size. These sum to 1
    over the V words, also for contexts never seen (then p = 1 / V). n = 1 is the unigram
    model (h is empty, c(h) = len(train)). Look counts up with `ngram_counts` and
    `torch.searchsorted`, vectorised (WikiText's training split has 2 million words): an
    n-gram of ids below V is one integer in base V.
    """
    def keys(ngrams: torch.Tensor) -> torch.Tensor:  # (M, k) -> (M,): each n-gram as one base-V number
        powers = vocab_size ** torch.arange(ngrams.shape[1] - 1, -1, -1, device=ngrams.device)
        return (ngrams * powers).sum(dim=1)

    def count(sequence: torch.Tensor, queries: torch.Tensor) -> torch.Tensor:  # occurrences of each row
        ngrams, counts = ngram_counts(sequence, queries.shape[1])
        known, wanted = keys(ngrams), keys(queries)  # known is sorted, since the rows are
        position = torch.searchsorted(known, wanted).clamp(max=len(known) - 1)
        return torch.where(known[position] == wanted, counts[position], 0).double()  # 0 if never seen

    grams = data.unfold(0, n, 1)  # (N - n + 1, n): (h, w) at every scored position
    joint = count(train, grams)  # c(h, w)
    if n == 1:
        context = torch.full_like(joint, len(train))  # c(h) for the empty context
    else:
        context = count(train[:-1], grams[:, :-1])  # c(h): h followed by some word
    return torch.log(joint + alpha) - torch.log(context + alpha * vocab_size)


def ngram_perplexity(train: torch.Tensor, data: torch.Tensor, n: int, vocab_size: int, alpha: float = 1.0) -> float:
    """Perplexity of the add-alpha n-gram model of `train` on `data` (its first n - 1 words unscored)."""
    return math.exp(-ngram_log_probs(train, data, n, vocab_size, alpha).mean().item())


def perplexity(logits: torch.Tensor, targets: torch.Tensor) -> float:
    """exp(mean cross-entropy) of next-word `logits` (..., V) for `targets` (...), as a float.

    Works for any leading shape, e.g. (B, L, V) with (B, L). The logits are unnormalised:
    use log-softmax (`F.log_softmax` or `F.cross_entropy`), which stays finite where
    softmax-then-log underflows (a logit 1000 above the others).
    """
    V = logits.shape[-1]
    nll = F.cross_entropy(logits.reshape(-1, V), targets.reshape(-1))  # mean over every position
    return nll.exp().item()  # inf, not an OverflowError, past e^709


# -----------------------------------------------------------------------------
# The transformer: causal self-attention inside a pre-LN block

class CausalSelfAttention(nn.Module):
    """Multi-head self-attention where position t sees positions 0..t only.

    Parameters (the names and shapes are part of the task: the grader loads weights into them):
      qkv:  nn.Linear(d_model, 3 * d_model), with bias. Its output is [q | k | v] along the
            last dimension, each (B, T, d_model); head h uses features h*hd .. (h+1)*hd - 1
            of each, with head_dim hd = d_model // n_heads.
      proj: nn.Linear(d_model, d_model), with bias: mixes the heads' outputs.
    No other parameters. For each head, with q_h, k_h, v_h of shape (B, T, hd):

        att = softmax(q_h k_h^T / sqrt(hd) + mask) ,   mask[t, s] = -inf for s > t, 0 else
        out_h = dropout(att) v_h

    then the heads are concatenated back to (B, T, d_model) (head h in features h*hd ..)
    and projected: proj(out), followed by dropout. All heads and positions at once: no
    Python loop over them. F.scaled_dot_product_attention(..., is_causal=True) is allowed.
    """

    def __init__(self, d_model: int, n_heads: int, dropout: float = 0.0):
        super().__init__()
        if d_model % n_heads != 0:
            raise ValueError(f"d_model {d_model} is not a multiple of n_heads {n_heads}")
        self.n_heads = n_heads
        self.head_dim = d_model // n_heads
        self.qkv = nn.Linear(d_model, 3 * d_model)  # q, k and v of every head in one matmul
        self.proj = nn.Linear(d_model, d_model)
        self.attn_dropout = nn.Dropout(dropout)
        self.resid_dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, T, d_model) -> (B, T, d_model)."""
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=2)  # 3 x (B, T, C)
        # (B, T, C) -> (B, n_heads, T, head_dim): heads become a batch dimension
        q, k, v = (t.view(B, T, self.n_heads, self.head_dim).transpose(1, 2) for t in (q, k, v))
        scores = q @ k.transpose(-2, -1) / math.sqrt(self.head_dim)  # (B, nh, T, T)
        # position t may look at s <= t only: -inf above the diagonal becomes weight 0
        mask = torch.full((T, T), float("-inf"), dtype=x.dtype, device=x.device).triu(diagonal=1)
        att = self.attn_dropout(torch.softmax(scores + mask, dim=-1))  # rows sum to 1 over s
        out = att @ v  # (B, nh, T, head_dim)
        out = out.transpose(1, 2).contiguous().view(B, T, C)  # heads side by side again
        return self.resid_dropout(self.proj(out))


class MLP(nn.Module):
    """The position-wise feed-forward network: fc (d -> 4d), GELU, proj (4d -> d), dropout.

    Parameters: fc = nn.Linear(d_model, 4 * d_model), proj = nn.Linear(4 * d_model, d_model),
    both with bias. GELU is nn.GELU() (the exact, erf form; not approximate='tanh').
    """

    def __init__(self, d_model: int, dropout: float = 0.0):
        super().__init__()
        self.fc = nn.Linear(d_model, 4 * d_model)
        self.gelu = nn.GELU()
        self.proj = nn.Linear(4 * d_model, d_model)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, T, d_model) -> (B, T, d_model)."""
        return self.dropout(self.proj(self.gelu(self.fc(x))))


class Block(nn.Module):
    """A pre-LN transformer block: each sublayer reads a normalised copy and adds to the stream.

        x = x + attn(ln1(x))
        x = x + mlp(ln2(x))

    Parameters: ln1, ln2 = nn.LayerNorm(d_model) (default eps); attn =
    CausalSelfAttention(d_model, n_heads, dropout); mlp = MLP(d_model, dropout).
    """

    def __init__(self, d_model: int, n_heads: int, dropout: float = 0.0):
        super().__init__()
        self.ln1 = nn.LayerNorm(d_model)
        self.attn = CausalSelfAttention(d_model, n_heads, dropout)
        self.ln2 = nn.LayerNorm(d_model)
        self.mlp = MLP(d_model, dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, T, d_model) -> (B, T, d_model)."""
        x = x + self.attn(self.ln1(x))  # the residual stream carries x past the sublayer
        x = x + self.mlp(self.ln2(x))
        return x


# -----------------------------------------------------------------------------
# Given: the model around the blocks, training, evaluation

@dataclass(frozen=True)
class LMConfig:
    vocab_size: int
    d_model: int = 128
    n_heads: int = 4
    n_layers: int = 2
    max_len: int = 64  # the longest context the model sees (position embeddings)
    dropout: float = 0.0
    tie_weights: bool = True  # the output layer reuses the token embedding matrix


class TransformerLM(nn.Module):
    """GPT: token + position embeddings, `n_layers` blocks, a final LayerNorm, a linear head.

    Built from plain keyword arguments (the fields of LMConfig) so that it can also be
    made across a process boundary: TransformerLM(vocab_size=33278, d_model=128, seed=0).
    Parameters are drawn from a generator seeded with `seed` (N(0, 0.02) for weights and
    embeddings, zero biases, LayerNorms at identity): a model is an exact function of its
    config and seed.
    """

    def __init__(self, seed: int = 0, **config: Any):
        super().__init__()
        self.config = LMConfig(**config)
        c = self.config
        self.tok_emb = nn.Embedding(c.vocab_size, c.d_model)
        self.pos_emb = nn.Embedding(c.max_len, c.d_model)
        self.drop = nn.Dropout(c.dropout)
        self.blocks = nn.ModuleList([Block(c.d_model, c.n_heads, c.dropout) for _ in range(c.n_layers)])
        self.ln_f = nn.LayerNorm(c.d_model)
        self.head = nn.Linear(c.d_model, c.vocab_size, bias=False)
        if c.tie_weights:
            self.head.weight = self.tok_emb.weight  # one (V, d) matrix embeds and un-embeds words
        self.reset_parameters(seed)

    @torch.no_grad()
    def reset_parameters(self, seed: int) -> None:
        generator = torch.Generator().manual_seed(seed)
        for module in self.modules():
            if isinstance(module, (nn.Linear, nn.Embedding)):
                module.weight.copy_(torch.randn(module.weight.shape, generator=generator) * 0.02)
            if isinstance(module, nn.Linear) and module.bias is not None:
                module.bias.zero_()
            if isinstance(module, nn.LayerNorm):
                module.weight.fill_(1.0)
                module.bias.zero_()

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        """idx (B, T) int64 with T <= max_len -> logits (B, T, V) of the word after each position."""
        B, T = idx.shape
        if T > self.config.max_len:
            raise ValueError(f"sequence of length {T} is longer than max_len {self.config.max_len}")
        positions = torch.arange(T, device=idx.device)  # (T,)
        x = self.drop(self.tok_emb(idx) + self.pos_emb(positions))  # (B, T, d)
        for block in self.blocks:
            x = block(x)
        return self.head(self.ln_f(x))  # (B, T, V)


def train(model: nn.Module, data: torch.Tensor, *, steps: int, batch_size: int = 32, seq_len: int = 32,
          lr: float = 3e-3, weight_decay: float = 0.1, warmup: int = 20, seed: int = 0,
          device: str | torch.device = "cpu", log_every: int = 0) -> list[float]:
    """Train `model` on the token stream `data` (N,) with AdamW; returns the loss of every step.

    Each step reads `batch_size` windows of seq_len + 1 tokens at random offsets (drawn
    from a generator seeded with `seed`) and minimises the mean cross-entropy of every
    next word. The learning rate warms up linearly for `warmup` steps, then follows a
    cosine down to lr / 10. Weight decay applies to matrices only (not biases, LayerNorms).
    """
    model.to(device).train()
    torch.manual_seed(seed)  # dropout's random numbers
    generator = torch.Generator().manual_seed(seed)
    data = data.to(device)
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": weight_decay},
                                   {"params": no_decay, "weight_decay": 0.0}], lr=lr, betas=(0.9, 0.95))
    offsets = torch.arange(seq_len + 1, device=device)  # (L + 1,)
    losses = []
    for step in range(steps):
        for group in optimizer.param_groups:
            group["lr"] = _learning_rate(step, steps, lr, warmup)
        starts = torch.randint(len(data) - seq_len, (batch_size, 1), generator=generator).to(device)
        windows = data[starts + offsets]  # (B, L + 1)
        inputs, targets = windows[:, :-1], windows[:, 1:]  # (B, L) each, targets shifted by one
        logits = model(inputs)  # (B, L, V)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        losses.append(loss.item())
        if log_every and (step % log_every == 0 or step == steps - 1):
            print(f"step {step:5d}  loss {loss.item():.4f}  lr {optimizer.param_groups[0]['lr']:.2e}")
    return losses


def _learning_rate(step: int, steps: int, lr: float, warmup: int) -> float:
    if step < warmup:
        return lr * (step + 1) / warmup
    progress = (step - warmup) / max(1, steps - warmup)  # 0 -> 1
    return lr / 10 + (lr - lr / 10) * 0.5 * (1 + math.cos(math.pi * progress))


@torch.no_grad()
def evaluate_perplexity(model: nn.Module, data: torch.Tensor, *, seq_len: int = 32, batch_size: int = 16,
                        device: str | torch.device = "cpu") -> float:
    """Perplexity of `model` on the token stream `data` (N,), read in windows of `seq_len`.

    Uses `batchify` and `get_batch`: every word after the first of each stream is scored
    once, with the words before it in its window as context.
    """
    model.to(device).eval()
    source = batchify(data, batch_size, device)  # (T, B)
    total, count = 0.0, 0
    for i in range(0, source.shape[0] - 1, seq_len):
        inputs, targets = get_batch(source, i, seq_len)  # (B, L) each
        logits = model(inputs)  # (B, L, V)
        total += F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), reduction="sum").item()
        count += targets.numel()
    return math.exp(total / count)


# -----------------------------------------------------------------------------
# Sampling text

def sample_next_token(logits: torch.Tensor, temperature: float = 1.0, top_k: int | None = None,
                      generator: torch.Generator | None = None) -> torch.Tensor:
    """One token per row of `logits` (B, V), int64 (B,), from softmax(logits / temperature).

    With `top_k`, only the k largest logits of each row keep their probability (the others
    are set to -inf before the softmax); top_k None (or >= V) keeps all. Lower temperatures
    sharpen the distribution. Draw with exactly one call
    `torch.multinomial(probs, num_samples=1, generator=generator)` on the (B, V)
    probabilities, so that the same generator state gives the same tokens.
    """
    logits = logits / temperature
    if top_k is not None and top_k < logits.shape[-1]:
        kth = torch.topk(logits, top_k, dim=-1).values[:, -1:]  # (B, 1) the k-th largest logit
        logits = logits.masked_fill(logits < kth, float("-inf"))
    probs = torch.softmax(logits, dim=-1)  # (B, V)
    return torch.multinomial(probs, num_samples=1, generator=generator).squeeze(1)  # (B,)


@torch.no_grad()
def sample(model: nn.Module, prompt: torch.Tensor, n_tokens: int, temperature: float = 1.0,
           top_k: int | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
    """Continue `prompt` (T0,) int64 by `n_tokens` words drawn from `model`: returns (T0 + n_tokens,).

    One word at a time: the model reads at most the last `model.config.max_len` words (its
    longest context), and the next word comes from `sample_next_token` on the logits of
    the last position. The prompt is kept as the start of the result. The model, the
    prompt and the generator are on the same device; call model.eval() first.
    """
    idx = prompt.view(1, -1)  # (1, T)
    for _ in range(n_tokens):
        context = idx[:, -model.config.max_len :]  # the model cannot see further back
        logits = model(context)[:, -1, :]  # (1, V) for the word after the last one
        next_token = sample_next_token(logits, temperature, top_k, generator)  # (1,)
        idx = torch.cat([idx, next_token.view(1, 1)], dim=1)
    return idx.view(-1)


if __name__ == "__main__":
    import argparse

    import wikitext

    parser = argparse.ArgumentParser(description="Train a small transformer on WikiText-2 and sample from it.")
    parser.add_argument("data", help="folder with wiki.{train,valid,test}.tokens (see wikitext.py)")
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    vocabulary, ids = encode_splits(wikitext.load_wikitext(args.data))
    print(f"{len(vocabulary)} words; " + ", ".join(f"{k}: {len(v)} tokens" for k, v in ids.items()))
    bigram = ngram_perplexity(ids["train"], ids["valid"], 2, len(vocabulary), alpha=0.1)
    print(f"bigram (add-0.1) valid perplexity: {bigram:.1f}")
    gpt = TransformerLM(vocab_size=len(vocabulary), d_model=128, n_heads=4, n_layers=2, max_len=64, dropout=0.1)
    train(gpt, ids["train"], steps=args.steps, batch_size=32, seq_len=64, lr=1e-3, device=args.device, log_every=100)
    print(f"transformer valid perplexity: {evaluate_perplexity(gpt, ids['valid'], seq_len=64, device=args.device):.1f}")
    words = list(vocabulary)
    text = sample(gpt.eval(), torch.tensor([vocabulary[EOS]], device=args.device), 50, temperature=0.8, top_k=40,
                  generator=torch.Generator(args.device).manual_seed(0))
    print(" ".join(words[i] for i in text.tolist()))
