"""A synthetic WikiText: text drawn from a known Markov chain over words, with a known best perplexity.

Real text has no known entropy, so no one can say how close a model on WikiText-2 is to the
best possible. Text drawn from a Markov chain can: the next word depends only on the
`order` words before it, with probabilities we chose, so the entropy rate

    H = sum over contexts c of  pi(c) * H(next word | c)        (nats per word)

(pi: how often each context occurs in a long text) is the smallest average negative
log-likelihood any model can reach on fresh text, and exp(H) is the perplexity floor. A model
that scores below the floor on held-out text is not good but broken: it sees the words it
is asked to predict.

`write_corpus` writes such text in exactly the format of WikiText-2's
`wiki.{train,valid,test}.tokens` (see wikitext.py), with the chain's `<eos>` as the line
break, so every loader and pipeline of the homework runs on it unchanged:

    >>> chain = random_chain(vocab_size=24, order=2, seed=0)
    >>> write_corpus("data/markov", chain)          # wiki.train.tokens, ...
    >>> math.exp(entropy_rate(chain))               # the perplexity floor
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass
from pathlib import Path

import torch

EOS = "<eos>"
# Word-like names for the chain's states, WikiText's special tokens first.
WORDS = (EOS, "<unk>", "=", "@-@", "@,@", "@.@", ",", ".", "the", "of", "and", "in", "to", "a", "was",
         "is", "for", "on", "as", "with", "by", "he", "at", "from", "his", "that", "it", "an", "were",
         "which", "are", "first", "game", "album", "song", "season", "war", "city", "river", "ship")
SPLIT_TOKENS = {"train": 50_000, "valid": 5_000, "test": 5_000}  # default sizes, in tokens


@dataclass(frozen=True)
class MarkovChain:
    """P(next word | the `order` previous words).

    `transitions[c, w]` is the probability of word w after context c, where the context
    (w_1, ..., w_order), oldest first, has index c = w_1 V^(order-1) + ... + w_order.
    Word 0 is `<eos>`: a text starts as if preceded by `order` line breaks.
    """

    words: tuple[str, ...]  # (V,) the vocabulary; words[0] == "<eos>"
    order: int
    transitions: torch.Tensor  # (V ** order, V) float64, rows sum to 1

    @property
    def vocab_size(self) -> int:
        return len(self.words)


def random_chain(vocab_size: int = 24, order: int = 2, branching: int = 3, smoothing: float = 0.02,
                 seed: int = 0) -> MarkovChain:
    """A chain where each context mostly picks one of `branching` likely words.

    Each row puts 1 - smoothing on `branching` words (random Dirichlet(1) weights) and
    spreads `smoothing` evenly over all words, so every context can follow every other:
    the chain is irreducible and aperiodic, and its stationary distribution is unique.
    """
    if not (vocab_size >= 2 and order >= 1 and 1 <= branching <= vocab_size):
        raise ValueError("need vocab_size >= 2, order >= 1 and 1 <= branching <= vocab_size")
    generator = torch.Generator().manual_seed(seed)
    contexts = vocab_size**order
    words = tuple(WORDS[i] if i < len(WORDS) else f"w{i}" for i in range(vocab_size))
    likely = torch.rand(contexts, vocab_size, generator=generator).argsort(dim=1)[:, :branching]  # (C, k)
    weights = -torch.log(torch.rand(contexts, branching, generator=generator, dtype=torch.float64))
    weights = weights / weights.sum(dim=1, keepdim=True)  # (C, k) ~ Dirichlet(1, ..., 1)
    transitions = torch.full((contexts, vocab_size), smoothing / vocab_size, dtype=torch.float64)
    transitions.scatter_add_(1, likely, (1 - smoothing) * weights)
    return MarkovChain(words=words, order=order, transitions=transitions)


def stationary_distribution(chain: MarkovChain, tol: float = 1e-13) -> torch.Tensor:
    """pi over contexts, (V ** order,): the long-run frequency of each context (power iteration)."""
    V, C = chain.vocab_size, chain.transitions.shape[0]
    step = chain.transitions.view(V, C // V, V)  # (oldest word, rest of the context, next word)
    pi = torch.full((C,), 1.0 / C, dtype=torch.float64)
    for _ in range(100_000):
        # the context (w_1, rest) moves to (rest, next): sum over the word that drops out
        new = (pi.view(V, C // V, 1) * step).sum(dim=0).reshape(C)
        if (new - pi).abs().max() < tol:
            return new
        pi = new
    raise RuntimeError("the chain's stationary distribution did not converge")


def entropy_rate(chain: MarkovChain) -> float:
    """H in nats per word: the lowest mean negative log-likelihood a model can reach on long text."""
    P = chain.transitions
    per_context = -torch.special.xlogy(P, P).sum(dim=1)  # (C,) entropy of the next word (0 log 0 = 0)
    return float(stationary_distribution(chain) @ per_context)


def context_ids(chain: MarkovChain, ids: torch.Tensor) -> torch.Tensor:
    """The context index of every position of `ids` (N,): the `order` words before it."""
    V = chain.vocab_size
    padded = torch.cat([torch.zeros(chain.order, dtype=torch.long), ids])  # the text starts after <eos>s
    context = torch.zeros(len(ids), dtype=torch.long)
    for j in range(chain.order):  # oldest word first
        context = context * V + padded[j : j + len(ids)]
    return context


def log_probs(chain: MarkovChain, ids: torch.Tensor) -> torch.Tensor:
    """log P(ids[t] | the words before it) under the chain, (N,) float64: the oracle's scores."""
    return torch.log(chain.transitions[context_ids(chain, ids), ids])


def sample_ids(chain: MarkovChain, n_tokens: int, generator: torch.Generator) -> torch.Tensor:
    """At least `n_tokens` word ids (N,) drawn from the chain, continued to the next `<eos>`.

    The text ends with a line break, so it round-trips through the WikiText format exactly.
    Each word inverts its row's CDF at one uniform from `generator`.
    """
    V, C = chain.vocab_size, chain.transitions.shape[0]
    cdf = torch.cumsum(chain.transitions, dim=1).tolist()  # C lists of V floats: bisect is fast on lists
    ids: list[int] = []
    context = 0  # `order` line breaks
    while len(ids) < n_tokens or ids[-1] != 0:
        for u in torch.rand(4096, generator=generator, dtype=torch.float64).tolist():
            word = min(bisect.bisect_right(cdf[context], u), V - 1)
            ids.append(word)
            context = context * V % C + word  # drop the oldest word, add the new one
            if len(ids) >= n_tokens and word == 0:
                break
    return torch.tensor(ids, dtype=torch.long)


def to_lines(chain: MarkovChain, ids: torch.Tensor) -> list[str]:
    """The words of `ids` as WikiText lines (without their newline): `<eos>` ends a line.

    Like the published files, every line starts with a space and ends with one, and an
    empty line is a single space: ' the game was first played . '.
    """
    words = [chain.words[i] for i in ids.tolist()]
    if not words or words[-1] != EOS:
        raise ValueError("the text must end with <eos> (a line break)")
    lines, line = [], []
    for word in words:
        if word == EOS:
            lines.append(" " + "".join(w + " " for w in line))
            line = []
        else:
            line.append(word)
    return lines


def write_corpus(folder: str | Path, chain: MarkovChain, sizes: dict[str, int] | None = None,
                 seed: int = 0) -> dict[str, Path]:
    """Write `wiki.{split}.tokens` files of text drawn from `chain` into `folder`.

    `sizes` gives the (minimum) number of tokens per split; each split has its own stream
    of random numbers, so changing one size leaves the other splits as they were.
    Returns the path of each split's file.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for index, (split, n_tokens) in enumerate((sizes or SPLIT_TOKENS).items()):
        generator = torch.Generator().manual_seed(seed * 1000 + index)
        lines = to_lines(chain, sample_ids(chain, n_tokens, generator))
        paths[split] = folder / f"wiki.{split}.tokens"
        paths[split].write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return paths


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="Write a Markov-chain corpus in WikiText-2's format.")
    parser.add_argument("folder")
    parser.add_argument("--vocab-size", type=int, default=24)
    parser.add_argument("--order", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    markov = random_chain(vocab_size=args.vocab_size, order=args.order, seed=args.seed)
    for split_name, path in write_corpus(args.folder, markov, seed=args.seed).items():
        print(f"wrote {path}")
    rate = entropy_rate(markov)
    print(f"entropy rate {rate:.4f} nats/word: no model can beat perplexity {math.exp(rate):.3f}")
