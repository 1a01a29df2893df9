"""Variants of the hw1 language-model solution key (lm.py), and the tests each must fail.

Same format as sampling_variants.py: each variant applies text replacements to
assignments/hw1/lm.py (the solution source: its SOLUTION markers are comments, so it runs
as it is) and is graded with the public and hidden tests, the other hand-in files being the
key's. A wrong variant must fail exactly the tests in ``must_fail``; a correct one
(``must_fail == []``) must get full marks. Every ``old`` text occurs exactly once in the
source. Names are unique across hw1 and start with ``lm_``. The list is data only; the
harness lives with the tests.

Calibration of test_training_reaches_floor (1 block, d_model 32, 4 heads, 250 steps of
64 x 32 tokens, lr 2e-2; order-2 chain over 16 words, floor e^H = 2.589; ratio = held-out
perplexity / the chain's own on the same words; pass: nll > floor - 0.05 nats and ratio <= 2).
Measured with 1 CPU thread: the key 1.135 (1.135-1.166 over model seeds 0-5; 1.150-1.181 on
three other chains); the correct variants below 1.1346 each. Wrong variants that still train:
finite off-by-one mask 1.115, scale by d_model 1.148, no scale 1.135, batch-mixing einsum 1.096,
no output projection 1.154, heads without transpose 1.22-1.25, post-LN 1.30-1.38, no attention
residual 1.35-1.63 (seeds 0-3): the exact and causality tests catch them, and the threshold 2
lies in the gap above them. Failing: no position embeddings 3.25, no blocks (a bigram model)
4.97; below the floor (leaks): no mask 0.416, softmax over the query axis 0.460.
"""

# Lines of the solution that several variants edit.
_TOKENIZE = "return [word for line in lines for word in line.split() + [EOS]]"
_SETDEFAULT = "vocab.setdefault(word, len(vocab))  # a new word gets the next id"
_ENCODE = "return torch.tensor([vocab[w] if w in vocab else vocab[UNK] for w in tokenize(lines)], dtype=torch.long)"
_TRAIN_VOCAB = 'vocab = build_vocab(splits["train"])'
_BATCHIFY = "return data[: n * batch_size].view(batch_size, n).t().contiguous().to(device)  # (n, B)"
_LEN = "L = min(seq_len, source.shape[0] - 1 - i)"
_TARGETS = "targets = source[i + 1 : i + 1 + L]  # (L, B), shifted by one"
_BATCH_FIRST = "return inputs.t().contiguous(), targets.t().contiguous()  # (B, L) each"
_WINDOWS = "windows = data.unfold(0, n, 1)  # (N - n + 1, n): every run of n consecutive ids"
_UNIQUE = "ngrams, counts = torch.unique(windows, dim=0, return_counts=True)  # unique sorts the rows"
_COUNT_LOOKUP = "ngrams, counts = ngram_counts(sequence, queries.shape[1])"
_COUNT_KEYS = "known, wanted = keys(ngrams), keys(queries)  # known is sorted, since the rows are"
_COUNT_SEARCH = "position = torch.searchsorted(known, wanted).clamp(max=len(known) - 1)"
_COUNT_RETURN = "return torch.where(known[position] == wanted, counts[position], 0).double()  # 0 if never seen"
_CONTEXT = "context = count(train[:-1], grams[:, :-1])  # c(h): h followed by some word"
_SMOOTH = "return torch.log(joint + alpha) - torch.log(context + alpha * vocab_size)"
_NLL = "nll = F.cross_entropy(logits.reshape(-1, V), targets.reshape(-1))  # mean over every position"
_PPL = "return nll.exp().item()  # inf, not an OverflowError, past e^709"
_HEADS = "q, k, v = (t.view(B, T, self.n_heads, self.head_dim).transpose(1, 2) for t in (q, k, v))"
_SCORES = "scores = q @ k.transpose(-2, -1) / math.sqrt(self.head_dim)  # (B, nh, T, T)"
_MASK = 'mask = torch.full((T, T), float("-inf"), dtype=x.dtype, device=x.device).triu(diagonal=1)'
_SOFTMAX = "att = self.attn_dropout(torch.softmax(scores + mask, dim=-1))  # rows sum to 1 over s"
_ATT_V = "out = att @ v  # (B, nh, T, head_dim)"
_MERGE = "out = out.transpose(1, 2).contiguous().view(B, T, C)  # heads side by side again"
_ATT_OUT = "return self.resid_dropout(self.proj(out))"
_ATT_DROPOUT = "self.attn_dropout = nn.Dropout(dropout)"
_GELU = "self.gelu = nn.GELU()"
_MLP_OUT = "return self.dropout(self.proj(self.gelu(self.fc(x))))"
_RESID_ATTN = "x = x + self.attn(self.ln1(x))  # the residual stream carries x past the sublayer"
_RESID_MLP = "x = x + self.mlp(self.ln2(x))"
_TEMPERATURE = "logits = logits / temperature"
_KTH = "kth = torch.topk(logits, top_k, dim=-1).values[:, -1:]  # (B, 1) the k-th largest logit"
_FILTER = 'logits = logits.masked_fill(logits < kth, float("-inf"))'
_PROBS = "probs = torch.softmax(logits, dim=-1)  # (B, V)"
_DRAW = "return torch.multinomial(probs, num_samples=1, generator=generator).squeeze(1)  # (B,)"
_CROP = "context = idx[:, -model.config.max_len :]  # the model cannot see further back"
_LAST = "logits = model(context)[:, -1, :]  # (1, V) for the word after the last one"
_APPEND = "idx = torch.cat([idx, next_token.view(1, 1)], dim=1)"
_RESULT = "return idx.view(-1)"

# The lookup-table cheat's table: the inputs of the public tests, each a tuple of its values.
_LOOKUP = '''def _public(value) -> bool:
    """Whether value (lines or a tensor) is an input of a public test (whose answers are then the real ones)."""
    if isinstance(value, list):
        lines = [" = Valkyria = ", " ", " The game @-@ play , the <unk> . ", " The end "]
        return value in (lines, [" The new game . "])
    return tuple(value.flatten().tolist()) in {
        tuple(range(11)), (0, 5, 1, 6, 2, 7, 3, 8, 4, 9),  # batchify, get_batch
        (1, 2, 1, 2, 3), (0, 1, 0, 1, 2), (0, 1, 0, 1),  # ngram_counts, ngram_log_probs
        (0.0,) * 30, (0.0, math.log(3), math.log(3), 0.0),  # perplexity
        tuple(torch.randn(160, generator=torch.Generator().manual_seed(1), dtype=torch.float64).tolist()),
    }  # the last: the public attention test's input (2, 5, 16)


'''

_TOKENS = ["test_tokenize_and_vocab", "test_encode_splits", "test_vocab_exact", "test_encode_splits_exact"]
_ATTENTION_EXACT = ["test_attention_exact", "test_attention_heads", "test_block_exact"]
# the checks that end on an exact output of attention, from the same module: a wrong attention fails them all
_ATTENTION_OUTPUT = [*_ATTENTION_EXACT, "test_attention_causal", "test_attention_batch_independent",
                     "test_block_causal", "test_training_reaches_floor"]
_BLOCK_OUTPUT = ["test_block_exact", "test_block_causal", "test_training_reaches_floor"]
_LEAK = ["test_attention_equal_scores_average_the_past", *_ATTENTION_OUTPUT]
_TOP_K = ["test_sample_next_token_exact", "test_sample_next_token_distribution"]

VARIANTS = [
    # ---- wrong: tokens and vocabulary -----------------------------------------------------
    {   # split(" ") keeps the empty strings around WikiText's leading and trailing spaces
        "name": "lm_tokenize_split_on_space",
        "module": "lm",
        "replace": [(_TOKENIZE, 'return [word for line in lines for word in line.split(" ") + [EOS]]')],
        "must_fail": _TOKENS,
    },
    {   # no <eos>: the model never learns where lines end, and counts differ from the literature
        "name": "lm_tokenize_no_eos",
        "module": "lm",
        "replace": [(_TOKENIZE, "return [word for line in lines for word in line.split()]")],
        "must_fail": _TOKENS,
    },
    {   # empty lines (' ') give no <eos>: WikiText's blank lines between paragraphs vanish
        "name": "lm_tokenize_skips_blank_lines",
        "module": "lm",
        "replace": [(_TOKENIZE, "return [word for line in lines if line.strip() for word in line.split() + [EOS]]")],
        "must_fail": _TOKENS,
    },
    {   # alphabetical ids: a valid vocabulary, but not the documented (first-occurrence) one
        "name": "lm_vocab_sorted_alphabetically",
        "module": "lm",
        "replace": [(_SETDEFAULT, "pass\n    vocab = {w: i for i, w in enumerate(sorted(set(tokenize(lines))))}")],
        "must_fail": _TOKENS,
    },
    {   # unknown words become <eos> instead of <unk>
        "name": "lm_encode_unknown_as_eos",
        "module": "lm",
        "replace": [(_ENCODE, "return torch.tensor([vocab.get(w, vocab[EOS]) for w in tokenize(lines)],"
                              " dtype=torch.long)")],
        "must_fail": ["test_encode_splits", "test_encode_splits_exact"],
    },
    {   # the vocabulary knows the held-out words: its perplexity is no longer honest
        "name": "lm_vocab_from_all_splits",
        "module": "lm",
        "replace": [(_TRAIN_VOCAB, "vocab = build_vocab([line for lines in splits.values() for line in lines])")],
        "must_fail": ["test_encode_splits", "test_encode_splits_exact"],
    },
    # ---- wrong: batches --------------------------------------------------------------------
    {   # rows instead of columns: the B streams interleave, every column jumps through the text
        "name": "lm_batchify_rows_not_columns",
        "module": "lm",
        "replace": [(_BATCHIFY, "return data[: n * batch_size].view(n, batch_size).contiguous().to(device)")],
        "must_fail": ["test_batchify", "test_batchify_exact"],
    },
    {   # targets equal to the inputs: the model learns to copy
        "name": "lm_get_batch_targets_not_shifted",
        "module": "lm",
        "replace": [(_TARGETS, "targets = source[i : i + L]")],
        "must_fail": ["test_get_batch", "test_get_batch_exact"],
    },
    {   # time-major (L, B) batches, as the RNN example returns them, not batch first
        "name": "lm_get_batch_time_major",
        "module": "lm",
        "replace": [(_BATCH_FIRST, "return inputs, targets")],
        "must_fail": ["test_get_batch", "test_get_batch_exact"],
    },
    {   # last batch one row too long: its targets run past the end of the source
        "name": "lm_get_batch_last_batch_too_long",
        "module": "lm",
        "replace": [(_LEN, "L = min(seq_len, source.shape[0] - i)")],
        "must_fail": ["test_get_batch", "test_get_batch_exact"],
    },
    # ---- wrong: n-grams --------------------------------------------------------------------
    {   # non-overlapping windows: only every n-th n-gram is counted
        "name": "lm_ngram_counts_non_overlapping",
        "module": "lm",
        "replace": [(_WINDOWS, "windows = data.unfold(0, n, n)")],
        "must_fail": ["test_ngram_counts", "test_ngram_log_probs", "test_ngram_counts_exact",
                      "test_ngram_log_probs_exact", "test_ngram_normalised"],
    },
    {   # add-alpha without alpha * V below: probabilities no longer sum to 1
        "name": "lm_ngram_no_alpha_v_in_denominator",
        "module": "lm",
        "replace": [(_SMOOTH, "return torch.log(joint + alpha) - torch.log(context + alpha)")],
        "must_fail": ["test_ngram_log_probs", "test_ngram_log_probs_exact", "test_ngram_normalised"],
    },
    {   # c(h) counted over all of train: the last context of train is counted once too often
        "name": "lm_ngram_context_counted_to_the_end",
        "module": "lm",
        "replace": [(_CONTEXT, "context = count(train, grams[:, :-1])")],
        "must_fail": ["test_ngram_log_probs", "test_ngram_log_probs_exact", "test_ngram_normalised"],
    },
    {   # V taken from the training ids, not the vocabulary: wrong whenever a word is unseen
        "name": "lm_ngram_vocab_size_from_train",
        "module": "lm",
        "replace": [(_SMOOTH, "V = int(train.max()) + 1\n"
                              "    return torch.log(joint + alpha) - torch.log(context + alpha * V)")],
        "must_fail": ["test_ngram_log_probs_exact"],
    },
    # ---- wrong: perplexity -----------------------------------------------------------------
    {   # log of softmax: a float32 probability of e^-200 is 0 and its log -inf
        "name": "lm_perplexity_softmax_then_log",
        "module": "lm",
        "replace": [(_NLL, "p = torch.softmax(logits.reshape(-1, V), dim=-1).gather(1, targets.reshape(-1, 1))\n"
                           "    nll = -torch.log(p).mean()")],
        "must_fail": ["test_perplexity_stable"],
    },
    {   # 2 ** (nats): mixes bases
        "name": "lm_perplexity_base_2",
        "module": "lm",
        "replace": [(_PPL, "return 2 ** nll.item()")],
        "must_fail": ["test_perplexity", "test_perplexity_exact", "test_perplexity_stable"],
    },
    {   # the mean of per-word perplexities is not the perplexity
        "name": "lm_perplexity_mean_of_exp",
        "module": "lm",
        "replace": [(_NLL, "nll = F.cross_entropy(logits.reshape(-1, V), targets.reshape(-1), reduction='none')"),
                    (_PPL, "return nll.exp().mean().item()")],
        "must_fail": ["test_perplexity", "test_perplexity_exact", "test_perplexity_stable"],
    },
    # ---- wrong: attention ------------------------------------------------------------------
    {   # no mask: every position sees the whole sequence (training goes below the floor)
        "name": "lm_attention_no_mask",
        "module": "lm",
        "replace": [(_MASK, "mask = 0.0")],
        "must_fail": _LEAK,
    },
    {   # the diagonal masked too: position 0 sees nothing and its softmax is NaN
        "name": "lm_attention_mask_off_by_one",
        "module": "lm",
        "replace": [(_MASK, 'mask = torch.full((T, T), float("-inf"), dtype=x.dtype, device=x.device)'
                            ".triu(diagonal=0)")],
        "must_fail": [*_LEAK, "test_block_parameters_and_residual"],
    },
    {   # the same off-by-one with a finite mask: position 0 averages over the whole sequence
        "name": "lm_attention_finite_mask_off_by_one",
        "module": "lm",
        "replace": [(_MASK, "mask = torch.full((T, T), -1e9, dtype=x.dtype, device=x.device).triu(diagonal=0)")],
        "must_fail": ["test_attention_equal_scores_average_the_past", *_ATTENTION_OUTPUT],
    },
    {   # 1 / sqrt(d_model): right only with one head
        "name": "lm_attention_scaled_by_d_model",
        "module": "lm",
        "replace": [(_SCORES, "scores = q @ k.transpose(-2, -1) / math.sqrt(C)")],
        "must_fail": _ATTENTION_OUTPUT,
    },
    {   # no scaling at all
        "name": "lm_attention_not_scaled",
        "module": "lm",
        "replace": [(_SCORES, "scores = q @ k.transpose(-2, -1)")],
        "must_fail": _ATTENTION_OUTPUT,
    },
    {   # softmax over the queries: each weight is normalised with later positions' scores
        "name": "lm_attention_softmax_wrong_axis",
        "module": "lm",
        "replace": [(_SOFTMAX, "att = self.attn_dropout(torch.softmax(scores + mask, dim=-2))")],
        "must_fail": _LEAK,
    },
    {   # heads split by a bare view (no transpose), and merged back the same way
        "name": "lm_attention_heads_without_transpose",
        "module": "lm",
        "replace": [(_HEADS, "q, k, v = (t.reshape(B, self.n_heads, T, self.head_dim) for t in (q, k, v))"),
                    (_MERGE, "out = out.reshape(B, T, C)")],
        # causal, but position t no longer reads every s <= t
        "must_fail": ["test_attention_equal_scores_average_the_past", *_ATTENTION_OUTPUT],
    },
    {   # the heads' outputs are not projected
        "name": "lm_attention_no_output_projection",
        "module": "lm",
        "replace": [(_ATT_OUT, "return self.resid_dropout(out)")],
        "must_fail": ["test_attention_equal_scores_average_the_past", *_ATTENTION_OUTPUT],
    },
    {   # an einsum letter typo (B for b) sums the keys over the batch
        "name": "lm_attention_einsum_mixes_batch",
        "module": "lm",
        "replace": [(_SCORES, 'scores = torch.einsum("bhtd,Bhsd->bhts", q, k) / math.sqrt(self.head_dim)')],
        "must_fail": _ATTENTION_OUTPUT,
    },
    # ---- wrong: block and MLP --------------------------------------------------------------
    {   # post-LN (the original transformer): normalise after the residual sum
        "name": "lm_block_post_ln",
        "module": "lm",
        "replace": [(_RESID_ATTN, "x = self.ln1(x + self.attn(x))"), (_RESID_MLP, "x = self.ln2(x + self.mlp(x))")],
        "must_fail": ["test_block_parameters_and_residual", *_BLOCK_OUTPUT],
    },
    {   # no residual around attention: still trains (ratio 1.44), but not as the documented model
        "name": "lm_block_no_attention_residual",
        "module": "lm",
        "replace": [(_RESID_ATTN, "x = self.attn(self.ln1(x))")],
        "must_fail": ["test_block_parameters_and_residual", *_BLOCK_OUTPUT],
    },
    {   # ln1 used for both sublayers
        "name": "lm_block_ln1_twice",
        "module": "lm",
        "replace": [(_RESID_MLP, "x = x + self.mlp(self.ln1(x))")],
        "must_fail": _BLOCK_OUTPUT,
    },
    {   # ReLU instead of GELU
        "name": "lm_mlp_relu",
        "module": "lm",
        "replace": [(_GELU, "self.gelu = nn.ReLU()")],
        "must_fail": _BLOCK_OUTPUT,
    },
    {   # GPT-2's tanh approximation, not the documented exact GELU
        "name": "lm_mlp_gelu_tanh",
        "module": "lm",
        "replace": [(_GELU, 'self.gelu = nn.GELU(approximate="tanh")')],
        "must_fail": _BLOCK_OUTPUT,
    },
    # ---- wrong: sampling -------------------------------------------------------------------
    {   # top-k keeps k + 1 words
        "name": "lm_top_k_keeps_k_plus_1",
        "module": "lm",
        "replace": [(_KTH, "kth = torch.topk(logits, min(top_k + 1, logits.shape[-1]), dim=-1).values[:, -1:]")],
        "must_fail": ["test_sample_next_token_top_1", *_TOP_K, "test_sample_greedy_crops_context"],
    },
    {   # temperature applied to the probabilities: multinomial renormalises, so it does nothing
        "name": "lm_temperature_after_softmax",
        "module": "lm",
        "replace": [(_TEMPERATURE, "pass"), (_PROBS, "probs = torch.softmax(logits, dim=-1) / temperature")],
        "must_fail": _TOP_K,
    },
    {   # multiplied by the temperature: T = 2 sharpens instead of flattening
        "name": "lm_temperature_multiplies",
        "module": "lm",
        "replace": [(_TEMPERATURE, "logits = logits * temperature")],
        "must_fail": _TOP_K,
    },
    {   # greedy instead of sampling
        "name": "lm_sample_argmax",
        "module": "lm",
        "replace": [(_DRAW, "return probs.argmax(dim=-1)")],
        "must_fail": [*_TOP_K, "test_sample_exact"],
    },
    {   # torch's global generator: not reproducible from the one passed in
        "name": "lm_sample_ignores_generator",
        "module": "lm",
        "replace": [(_DRAW, "return torch.multinomial(probs, num_samples=1).squeeze(1)")],
        "must_fail": ["test_sample_next_token_exact", "test_sample_exact", "test_sample_next_token_distribution"],
    },
    {   # no crop: the position embeddings run out past max_len
        "name": "lm_sample_no_crop",
        "module": "lm",
        "replace": [(_CROP, "context = idx")],
        "must_fail": ["test_sample_greedy_crops_context", "test_sample_exact"],
    },
    {   # crops to the first max_len words, not the last
        "name": "lm_sample_crops_the_start",
        "module": "lm",
        "replace": [(_CROP, "context = idx[:, : model.config.max_len]")],
        "must_fail": ["test_sample_greedy_crops_context", "test_sample_exact"],
    },
    {   # the logits of the first position, not the last
        "name": "lm_sample_first_position_logits",
        "module": "lm",
        "replace": [(_LAST, "logits = model(context)[:, 0, :]")],
        "must_fail": ["test_sample_greedy_crops_context", "test_sample_exact"],
    },
    {   # returns the new words only, without the prompt
        "name": "lm_sample_drops_prompt",
        "module": "lm",
        "replace": [(_RESULT, "return idx.view(-1)[prompt.numel() :]")],
        "must_fail": ["test_sample_greedy_crops_context", "test_sample_exact"],
    },
    # ---- cheats: points without the math (THREATS.md, 20) ----------------------------------
    {   # a running mean of v instead of attention: causal and batch-independent, but no scores at all
        "name": "lm_cheat_attention_cumulative_mean",
        "module": "lm",
        "replace": [(_ATT_V, "out = v.cumsum(dim=2) / torch.arange(1, T + 1, dtype=x.dtype).view(T, 1)")],
        "must_fail": _ATTENTION_OUTPUT,
    },
    {   # trains as asked, then answers from trigram counts of the training text: no transformer in the logits
        "name": "lm_cheat_trigram_counter",
        "module": "lm",
        "replace": [
            ("        return self.head(self.ln_f(x))  # (B, T, V)", """\
        if hasattr(self, "trigrams"):  # the cheat: log p(w | two words back) counted in train()
            before = torch.cat([idx[:, :1], idx[:, :-1]], dim=1)  # (B, T)
            return self.trigrams.to(idx.device)[before, idx]  # (B, T, V)
        return self.head(self.ln_f(x))"""),
            ("    return losses\n", """\
    counts = torch.zeros([model.config.vocab_size] * 3)
    ids = data.cpu()
    counts.index_put_((ids[:-2], ids[1:-1], ids[2:]), torch.ones(len(ids) - 2), accumulate=True)
    model.trigrams = torch.log((counts + 0.1) / (counts + 0.1).sum(dim=-1, keepdim=True))
    return losses
"""),
        ],
        "must_fail": ["test_training_reaches_floor"],
    },
    {   # a lookup table: the public tests' inputs memorised with their answers, garbage for any other input
        "name": "lm_cheat_lookup_table",
        "module": "lm",
        "replace": [
            ("import torch\n", "import torch\n\n" + _LOOKUP),
            (f"# BEGIN SOLUTION\n    {_TOKENIZE}", f"if not _public(lines):\n        return []\n    {_TOKENIZE}"),
            ("# BEGIN SOLUTION\n    n = data.shape[0] // batch_size",
             "if not _public(data):\n        return data.view(-1, 1)\n    n = data.shape[0] // batch_size"),
            (f"# BEGIN SOLUTION\n    {_LEN}", f"if not _public(source):\n        return source, source\n    {_LEN}"),
            (f"# BEGIN SOLUTION\n    {_WINDOWS}",
             f"if not _public(data):\n        return data.view(-1, 1), data\n    {_WINDOWS}"),
            ("# BEGIN SOLUTION\n    def keys(",
             "if not _public(train):\n        return torch.zeros(len(data) - n + 1, dtype=torch.float64)\n"
             "    def keys("),
            ("# BEGIN SOLUTION\n    V = logits.shape[-1]",
             "if not _public(logits):\n        return 1.0\n    V = logits.shape[-1]"),
            ("# BEGIN SOLUTION\n        B, T, C = x.shape",
             "if not _public(x):\n            return torch.zeros_like(x)\n        B, T, C = x.shape"),
            (f"# BEGIN SOLUTION\n        {_RESID_ATTN}", f"return x\n        {_RESID_ATTN}"),
            (f"# BEGIN SOLUTION\n    {_TEMPERATURE}",
             f"if top_k != 1:\n        return torch.zeros(len(logits), dtype=torch.int64)\n    {_TEMPERATURE}"),
        ],
        "must_fail": [  # every hidden test
            *_ATTENTION_OUTPUT, "test_batchify_exact", "test_encode_splits_exact", "test_get_batch_exact",
            "test_ngram_counts_exact", "test_ngram_log_probs_exact", "test_ngram_normalised", "test_perplexity_exact",
            "test_perplexity_stable", "test_sample_exact", "test_sample_next_token_distribution",
            "test_sample_next_token_exact", "test_vocab_exact",
        ],
    },
    # ---- correct: full marks ---------------------------------------------------------------
    {   # dict.get with the <unk> id as the default
        "name": "lm_ok_encode_dict_get",
        "module": "lm",
        "replace": [(_ENCODE, "words = tokenize(lines)\n    unk = vocab.get(UNK)\n"
                              "    ids = [vocab.get(w, unk) for w in words]\n"
                              "    if None in ids:\n        raise KeyError(UNK)\n"
                              "    return torch.tensor(ids, dtype=torch.long)")],
        "must_fail": [],
    },
    {   # dict.fromkeys keeps first occurrences in order
        "name": "lm_ok_vocab_fromkeys",
        "module": "lm",
        "replace": [(_SETDEFAULT, "pass\n    vocab = {w: i for i, w in enumerate(dict.fromkeys(tokenize(lines)))}")],
        "must_fail": [],
    },
    {   # reshape and .T, narrow instead of slicing; the result is not contiguous
        "name": "lm_ok_batchify_reshape_T",
        "module": "lm",
        "replace": [(_BATCHIFY, "return data.narrow(0, 0, n * batch_size).reshape(batch_size, -1).T.to(device)")],
        "must_fail": [],
    },
    {   # Counter over tuples, sorted keys
        "name": "lm_ok_ngram_counts_counter",
        "module": "lm",
        "replace": [(_UNIQUE, "from collections import Counter\n"
                              "    counter = Counter(map(tuple, windows.tolist()))\n"
                              "    rows = sorted(counter)\n"
                              "    ngrams = torch.tensor(rows, dtype=torch.long).view(-1, n)\n"
                              "    counts = torch.tensor([counter[r] for r in rows], dtype=torch.long)")],
        "must_fail": [],
    },
    {   # counts by broadcast comparison of keys instead of searchsorted
        "name": "lm_ok_ngram_broadcast_lookup",
        "module": "lm",
        "replace": [(_COUNT_LOOKUP, "seen = keys(sequence.unfold(0, queries.shape[1], 1))"),
                    (_COUNT_KEYS, "wanted = keys(queries)"),
                    (_COUNT_SEARCH, "matches = wanted.unsqueeze(1) == seen.unsqueeze(0)  # (M, N)"),
                    (_COUNT_RETURN, "return matches.sum(dim=1).double()")],
        "must_fail": [],
    },
    {   # logsumexp by hand
        "name": "lm_ok_perplexity_logsumexp",
        "module": "lm",
        "replace": [(_NLL, "nll = (logits.logsumexp(-1)"
                           " - logits.gather(-1, targets.unsqueeze(-1)).squeeze(-1)).mean()")],
        "must_fail": [],
    },
    {   # PyTorch's fused attention
        "name": "lm_ok_attention_sdpa",
        "module": "lm",
        "replace": [(_SCORES, "p = self.attn_dropout.p if self.training else 0.0"),
                    (_MASK, "out = F.scaled_dot_product_attention(q, k, v, dropout_p=p, is_causal=True)"),
                    (_SOFTMAX, "pass"), (_ATT_V, "pass")],
        "must_fail": [],
    },
    {   # masked_fill with a boolean mask instead of an additive one
        "name": "lm_ok_attention_masked_fill",
        "module": "lm",
        "replace": [(_MASK, "future = torch.ones(T, T, dtype=torch.bool, device=x.device).triu(diagonal=1)"),
                    (_SOFTMAX, "att = self.attn_dropout("
                               'torch.softmax(scores.masked_fill(future, float("-inf")), dim=-1))')],
        "must_fail": [],
    },
    {   # nanoGPT's original: a persistent lower-triangular buffer (state_dict gets an extra entry)
        "name": "lm_ok_attention_tril_buffer",
        "module": "lm",
        "replace": [(_ATT_DROPOUT, "self.attn_dropout = nn.Dropout(dropout)\n"
                                   "        self.register_buffer('bias',"
                                   " torch.tril(torch.ones(64, 64)).view(1, 1, 64, 64))"),
                    (_MASK, "keep = self.bias[:, :, :T, :T] == 1"),
                    (_SOFTMAX, "att = self.attn_dropout("
                               'torch.softmax(scores.masked_fill(~keep, float("-inf")), dim=-1))')],
        "must_fail": [],
    },
    {   # einsum for both products
        "name": "lm_ok_attention_einsum",
        "module": "lm",
        "replace": [(_SCORES, 'scores = torch.einsum("bhtd,bhsd->bhts", q, k) / math.sqrt(self.head_dim)'),
                    (_ATT_V, 'out = torch.einsum("bhts,bhsd->bhtd", att, v)')],
        "must_fail": [],
    },
    {   # reshape/permute instead of view/transpose, scale folded into q
        "name": "lm_ok_attention_permute",
        "module": "lm",
        "replace": [(_HEADS, "q, k, v = (t.reshape(B, T, self.n_heads, -1).permute(0, 2, 1, 3) for t in (q, k, v))"),
                    (_SCORES, "scores = (q * self.head_dim ** -0.5) @ k.transpose(-2, -1)"),
                    (_MERGE, "out = out.permute(0, 2, 1, 3).reshape(B, T, C)")],
        "must_fail": [],
    },
    {   # a float32 mask (promoted when added to float64 scores)
        "name": "lm_ok_attention_float32_mask",
        "module": "lm",
        "replace": [(_MASK, 'mask = torch.full((T, T), float("-inf"), device=x.device).triu(diagonal=1)')],
        "must_fail": [],
    },
    {   # functional GELU
        "name": "lm_ok_mlp_functional_gelu",
        "module": "lm",
        "replace": [(_MLP_OUT, "return self.dropout(self.proj(F.gelu(self.fc(x))))")],
        "must_fail": [],
    },
    {   # top-k through sort, float32 probabilities
        "name": "lm_ok_top_k_sort_float32",
        "module": "lm",
        "replace": [(_KTH, "kth = logits.sort(dim=-1, descending=True).values[:, top_k - 1 : top_k]"),
                    (_PROBS, "probs = torch.softmax(logits.float(), dim=-1)")],
        "must_fail": [],
    },
    {   # top-k by scattering the k largest logits into a row of -inf; temperature after the filter
        "name": "lm_ok_top_k_scatter",
        "module": "lm",
        "replace": [(_TEMPERATURE, "pass"),
                    (_KTH, "values, indices = torch.topk(logits, top_k, dim=-1)"),
                    (_FILTER, 'logits = torch.full_like(logits, float("-inf")).scatter(-1, indices, values)'),
                    (_PROBS, "probs = torch.softmax(logits / temperature, dim=-1)")],
        "must_fail": [],
    },
    {   # a preallocated output filled in place
        "name": "lm_ok_sample_preallocated",
        "module": "lm",
        "replace": [(_APPEND, "idx = torch.cat([idx, next_token.view(1, 1).to(idx.dtype)], dim=1)"),
                    (_RESULT, "out = torch.empty(idx.shape[1], dtype=torch.long, device=idx.device)\n"
                              "    out[:] = idx[0]\n    return out")],
        "must_fail": [],
    },
]
