"""hw1's provided data modules: the WikiText-2 loader and its checksummed download, and the Markov corpus.

wikitext.py and corpus.py are imported by path from assignments/hw1 (they are homework
files, not part of the autograder package). The download is tested against an HTTP server
on 127.0.0.1 started here; every other connection is refused for the whole module, so no
test can reach the internet.
"""

from __future__ import annotations

import hashlib
import io
import math
import zipfile

import pytest
import torch

from tests.conftest import REPO, import_homework

HW1 = REPO / "assignments" / "hw1"
wikitext = import_homework("hw1", "wikitext")
corpus = import_homework("hw1", "corpus")

pytestmark = pytest.mark.usefixtures("loopback_only")  # tests/assignments/conftest.py


def markov_texts(seed: int = 0) -> dict[str, str]:
    """Small WikiText-format files: {split: text} drawn from a Markov chain."""
    chain = corpus.random_chain(vocab_size=12, order=1, seed=seed)
    texts = {}
    for index, split in enumerate(wikitext.SPLITS):
        ids = corpus.sample_ids(chain, 300, torch.Generator().manual_seed(index))
        texts[split] = "".join(line + "\n" for line in corpus.to_lines(chain, ids))
    return texts


def make_archive(texts: dict[str, str], extra: dict[str, str] | None = None) -> bytes:
    """A zip laid out like wikitext-2-v1.zip (wikitext-2/wiki.*.tokens)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        for split, text in texts.items():
            z.writestr(f"wikitext-2/wiki.{split}.tokens", text.encode("utf-8"))
        for name, text in (extra or {}).items():
            z.writestr(name, text)
    return buffer.getvalue()


# --- reading ---------------------------------------------------------------------------


def test_reads_the_published_format(tmp_path):
    line = " Senjō no Valkyria 3 : <unk> Chronicles ( 戦場のヴァルキュリア3 ) , 1 @,@ 000 "
    text = f" \n = Valkyria Chronicles III = \n \n{line}\n"
    for split in wikitext.SPLITS:
        (tmp_path / f"wiki.{split}.tokens").write_text(text, encoding="utf-8")
    splits = wikitext.load_wikitext(tmp_path)
    assert list(splits) == list(wikitext.SPLITS)
    assert splits["valid"] == [" ", " = Valkyria Chronicles III = ", " ", line]
    tokens = [w for row in splits["train"] for w in row.split() + ["<eos>"]]
    assert tokens.count("<eos>") == 4 and len(tokens) == 23


def test_only_newline_ends_a_line(tmp_path):
    path = tmp_path / "wiki.train.tokens"
    path.write_text(" a \u2028 b \x85 c \n d \n", encoding="utf-8")  # separators str.splitlines() would split on
    assert wikitext.read_lines(path) == [" a \u2028 b \x85 c ", " d "]


def test_missing_file_is_named(tmp_path):
    (tmp_path / "wiki.train.tokens").write_text(" a \n", encoding="utf-8")
    with pytest.raises(wikitext.DatasetError, match=r"wiki\.valid\.tokens is missing"):
        wikitext.load_wikitext(tmp_path)


@pytest.mark.parametrize("content, problem", [
    (b" a b \n c", "cut off"),  # truncated: the last line has no newline
    (b"", "empty"),
    (b" caf\xe9 \n", "not UTF-8"),  # Latin-1, not UTF-8
])
def test_damaged_file_is_named(tmp_path, content, problem):
    path = tmp_path / "wiki.test.tokens"
    path.write_bytes(content)
    with pytest.raises(wikitext.DatasetError, match=problem) as error:
        wikitext.read_lines(path)
    assert str(path) in str(error.value)


def test_unknown_split_is_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown split"):
        wikitext.split_path(tmp_path, "dev")


# --- downloading -----------------------------------------------------------------------


def test_download_checks_and_unpacks(tmp_path, server):
    folder, url = server
    texts = markov_texts()
    archive = make_archive(texts, extra={"wikitext-2/../../escape.txt": "not extracted"})
    (folder / "wikitext-2-v1.zip").write_bytes(archive)
    root = tmp_path / "data"
    paths = wikitext.download(root, urls=[f"{url}/wikitext-2-v1.zip"], sha256=hashlib.sha256(archive).hexdigest())
    assert {split: p.read_text(encoding="utf-8") for split, p in paths.items()} == texts
    assert sorted(p.name for p in root.iterdir()) == ["wiki.test.tokens", "wiki.train.tokens", "wiki.valid.tokens"]
    assert not (tmp_path / "escape.txt").exists()
    assert wikitext.load_wikitext(root)["train"] == texts["train"][:-1].split("\n")


def test_download_rejects_a_bad_checksum_and_removes_it(tmp_path, server):
    folder, url = server
    (folder / "wikitext-2-v1.zip").write_bytes(make_archive(markov_texts()))
    root = tmp_path / "data"
    with pytest.raises(wikitext.DatasetError, match="checksum mismatch") as error:
        wikitext.download(root, urls=[f"{url}/wikitext-2-v1.zip"], sha256="0" * 64)
    assert "deleted" in str(error.value)
    assert list(root.iterdir()) == []  # no partial download, no archive, no split


def test_download_falls_back_to_the_next_mirror(tmp_path, server):
    folder, url = server
    archive = make_archive(markov_texts(1))
    (folder / "mirror").mkdir()
    (folder / "mirror" / "wikitext-2-v1.zip").write_bytes(archive)
    urls = [f"{url}/missing/wikitext-2-v1.zip", f"{url}/mirror/wikitext-2-v1.zip"]
    paths = wikitext.download(tmp_path, urls=urls, sha256=hashlib.sha256(archive).hexdigest())
    assert all(p.is_file() for p in paths.values())


def test_download_reports_every_failure(tmp_path, server):
    _, url = server
    with pytest.raises(wikitext.DatasetError) as error:
        wikitext.download(tmp_path / "data", urls=[f"{url}/a.zip", "http://192.0.2.1/b.zip"], sha256="0" * 64)
    message = str(error.value)
    assert "a.zip" in message and "404" in message
    assert "192.0.2.1" in message and "only 127.0.0.1 is allowed" in message  # refused here, never sent
    assert not any((tmp_path / "data").iterdir())


def test_download_rejects_an_archive_without_the_splits(tmp_path, server):
    folder, url = server
    archive = make_archive({"train": " a \n"})  # valid and test missing
    (folder / "w.zip").write_bytes(archive)
    root = tmp_path / "data"
    with pytest.raises(wikitext.DatasetError, match="cannot unpack"):
        wikitext.download(root, urls=[f"{url}/w.zip"], sha256=hashlib.sha256(archive).hexdigest())
    assert not list(root.glob("*.part")) and not (root / wikitext.ARCHIVE).exists()


def test_download_skips_when_present(tmp_path):
    for split in wikitext.SPLITS:
        (tmp_path / f"wiki.{split}.tokens").write_text(" a \n", encoding="utf-8")
    paths = wikitext.download(tmp_path, urls=["http://192.0.2.1/never.zip"])  # not contacted
    assert all(p.read_text() == " a \n" for p in paths.values())


def test_published_archive_constants():
    assert len(wikitext.ARCHIVE_SHA256) == 64 and int(wikitext.ARCHIVE_SHA256, 16) >= 0
    assert all(url.startswith("https://") and url.endswith("/wikitext-2-v1.zip") for url in wikitext.MIRRORS)


# --- the Markov corpus -------------------------------------------------------------------


def test_corpus_round_trips_through_the_format(tmp_path):
    chain = corpus.random_chain(vocab_size=20, order=2, seed=3)
    paths = corpus.write_corpus(tmp_path, chain, sizes={"train": 2000, "valid": 500, "test": 500}, seed=1)
    splits = wikitext.load_wikitext(tmp_path)
    for split, path in paths.items():
        ids = corpus.sample_ids(chain, {"train": 2000, "valid": 500, "test": 500}[split],
                                torch.Generator().manual_seed(1000 + list(paths).index(split)))
        words = [w for line in splits[split] for w in line.split() + ["<eos>"]]
        assert words == [chain.words[i] for i in ids.tolist()]
        assert all(line.startswith(" ") and line.endswith(" ") for line in splits[split])


def test_corpus_entropy_rate_is_the_floor():
    chain = corpus.random_chain(vocab_size=16, order=2, seed=0)
    assert torch.allclose(chain.transitions.sum(dim=1), torch.ones(16**2, dtype=torch.float64))
    pi = corpus.stationary_distribution(chain)
    assert abs(pi.sum().item() - 1) < 1e-12 and bool((pi > 0).all())
    rate = corpus.entropy_rate(chain)
    # measured: e^H = 2.589 for this chain; an order-1 model of the same text cannot go below ~11
    assert abs(math.exp(rate) - 2.5887) < 1e-3
    ids = corpus.sample_ids(chain, 200_000, torch.Generator().manual_seed(0))
    log_p = corpus.log_probs(chain, ids)
    standard_error = log_p.std().item() / math.sqrt(len(ids))
    assert abs(-log_p.mean().item() - rate) < 5 * standard_error  # the empirical rate of a long sample


def test_order_one_chain_has_its_row_entropy():
    words = ("<eos>", "a", "b")
    P = torch.tensor([[0.0, 0.5, 0.5], [1.0, 0.0, 0.0], [0.5, 0.0, 0.5]], dtype=torch.float64)
    chain = corpus.MarkovChain(words=words, order=1, transitions=P)
    # stationary: pi = (2/5, 1/5, 2/5); H = 2/5 ln 2 + 0 + 2/5 ln 2
    assert torch.allclose(corpus.stationary_distribution(chain), torch.tensor([0.4, 0.2, 0.4], dtype=torch.float64))
    assert abs(corpus.entropy_rate(chain) - 0.8 * math.log(2)) < 1e-12
