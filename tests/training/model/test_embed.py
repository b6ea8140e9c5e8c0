"""The static student: exact pooling, the shared text window, and the embedding cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from classifier.textwindow import TextWindow
from training.model.embed import Pooling, StaticStudent, pool_ids, quantize_exact
from training.model.embed_cache import EmbeddingCache

pytestmark = pytest.mark.slow  # needs the distilled student (cached after the first run)


@pytest.fixture(scope="module")
def student(student_dir: Path) -> StaticStudent:
    return StaticStudent.load(student_dir)


def test_quantized_sums_are_exact_in_any_order() -> None:
    rng = np.random.default_rng(0)
    vectors, bits = quantize_exact(rng.normal(scale=2.0, size=(500, 16)).astype(np.float32), 64)
    ids = rng.integers(0, 500, size=64)
    forward = np.zeros(16, np.float32)
    for i in ids:
        forward += vectors[i]
    backward = np.zeros(16, np.float32)
    for i in ids[::-1]:
        backward += vectors[i]
    assert bits > 0
    assert np.array_equal(forward, backward)
    assert np.array_equal(forward, vectors[ids].sum(axis=0, dtype=np.float32))


def test_encode_is_all_head_and_tail_means_of_the_windowed_ids(student: StaticStudent) -> None:
    texts = ["Summarize this thread", "Write SQL for the report", "x " * 2000]
    texts.append(" ".join(f"word{i}" for i in range(12)))
    X = student.encode(texts)
    d, k = student.dim, student.pooling.edge_tokens
    assert k > 0 and X.shape == (4, student.feature_dim) == (4, 3 * d) and X.dtype == np.float32
    for row, text in zip(X, texts, strict=True):
        ids, _ = student.encoder.encode(text)
        assert len(ids) <= student.window.max_tokens
        assert np.array_equal(row[:d], pool_ids(student.vectors, ids))
        assert np.array_equal(row[d : 2 * d], pool_ids(student.vectors, ids[:k]))
        assert np.array_equal(row[2 * d :], pool_ids(student.vectors, ids[-k:]))
    assert not np.allclose(X[0], X[1])
    assert not np.array_equal(X[3, d : 2 * d], X[3, 2 * d :])  # > k ids: head != tail


def test_edge_means_keep_an_instruction_visible_under_a_long_document(
    student: StaticStudent,
) -> None:
    """The reason for the edge means: one mean over 256 tokens hardly moves with the ask."""
    document = " ".join(f"The pilot in city {i} reported {i * 7} open tickets." for i in range(40))
    a, b = student.encode(
        [f"{document}\n\nSummarize the above.", f"{document}\n\nTranslate the above to French."]
    )
    d = student.dim
    mean_gap = np.linalg.norm(a[:d] - b[:d])
    tail_gap = np.linalg.norm(a[2 * d :] - b[2 * d :])
    assert tail_gap > 5 * mean_gap


def test_narrow_edges_and_plain_mean(student_dir: Path, student: StaticStudent) -> None:
    text = "Please summarize the attached quarterly report for the board meeting tomorrow"
    narrow = StaticStudent.load(student_dir, pooling=Pooling(edge_tokens=4, edge_dims=32))
    plain = StaticStudent.load(student_dir, pooling=Pooling(edge_tokens=0))
    x_narrow, x_plain, x_full = (
        narrow.encode([text])[0],
        plain.encode([text])[0],
        student.encode([text])[0],
    )
    d = student.dim
    assert x_narrow.shape == (d + 64,) and x_plain.shape == (d,)
    assert np.array_equal(x_narrow[:d], x_plain) and np.array_equal(x_full[:d], x_plain)
    ids, _ = student.encoder.encode(text)
    assert np.array_equal(x_narrow[d : d + 32], pool_ids(student.vectors[:, :32], ids[:4]))
    assert len({narrow.version, plain.version, student.version}) == 3  # cache keys differ
    assert Pooling.from_manifest({"pooling": "mean of token rows"}) == Pooling(edge_tokens=0)
    assert Pooling.from_manifest({"pooling": {"kind": "x", **narrow.pooling.to_dict()}}) == (
        narrow.pooling
    )


def test_window_changes_version_and_vectors(student_dir: Path, student: StaticStudent) -> None:
    small = StaticStudent.load(student_dir, TextWindow(head_chars=20, tail_chars=0, max_tokens=4))
    assert small.version != student.version
    text = "Please summarize the attached quarterly report for the board meeting tomorrow"
    assert not np.array_equal(small.encode([text]), student.encode([text]))


def test_empty_token_list_is_a_zero_vector(student: StaticStudent) -> None:
    X = student.encode(["\x00\x01"])
    assert X.shape == (1, student.feature_dim) and not X.any()


def test_cache_embeds_each_text_once(tmp_path: Path, student: StaticStudent) -> None:
    calls: list[int] = []

    class Counting:
        name = student.name
        version = student.version

        def encode(self, texts, *, progress=False):  # noqa: ANN001, ANN202
            calls.append(len(texts))
            return student.encode(texts)

    texts = ["a first text", "a second text", "a first text"]
    with EmbeddingCache(tmp_path / "emb.sqlite") as cache:
        first = cache.encode(Counting(), texts)
        assert calls == [2]  # the duplicate is embedded once
    with EmbeddingCache(tmp_path / "emb.sqlite") as cache:
        second = cache.encode(Counting(), [*texts, "a third text"])
        assert calls == [2, 1]
        assert cache.hits == 3 and cache.misses == 1
    assert np.array_equal(first, second[:3])
    assert np.array_equal(first, student.encode(texts))


def test_cache_keeps_versions_apart(tmp_path: Path) -> None:
    with EmbeddingCache(tmp_path / "emb.sqlite") as cache:
        cache.put_many("v1", [b"k"], np.ones((1, 3), np.float32))
        assert cache.get_many("v2", [b"k"]) == {}
        assert np.array_equal(cache.get_many("v1", [b"k"])[b"k"], np.ones(3, np.float32))


def test_teacher_encodes_offline_and_normalised() -> None:
    from training.model.embed import Teacher

    vectors = Teacher().encode(["Summarize this thread", "Write a SQL query"])
    assert vectors.shape == (2, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
