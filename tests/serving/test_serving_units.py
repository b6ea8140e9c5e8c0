"""Cache, input composition and settings: the parts with no model in them."""

from __future__ import annotations

import tracemalloc

import pytest
from pydantic import ValidationError

from serving.cache import DecisionCache, deep_size, normalise
from serving.errors import ApiError
from serving.inputs import compose_text, parse_classify, read_json
from serving.schemas import ClassifyRequest
from serving.settings import ServingSettings


def test_lru_evicts_least_recent_and_counts() -> None:
    cache = DecisionCache(2)
    a, b, c = (cache.key("h", text, None) for text in "abc")
    cache.put(a, 1)
    cache.put(b, 2)
    assert cache.get(a) == 1  # a is now most recent
    cache.put(c, 3)
    assert cache.get(b) is None and cache.get(c) == 3
    assert (cache.hits, cache.misses, len(cache)) == (2, 1, 2)
    assert cache.hit_ratio() == pytest.approx(2 / 3)
    off = DecisionCache(0)
    off.put(a, 1)
    assert off.get(a) is None and len(off) == 0


def test_keys_hold_a_digest_not_the_text() -> None:
    """4,096 unique 255 KB texts once held ~1 GB of keys; now each key is 16 bytes of digest."""
    cache = DecisionCache(4096)
    body = {"intent": "summarize", "tier_ok_probs": {"nano": 0.5, "mini": 0.7, "full": 0.9}}
    tracemalloc.start()
    try:
        for n in range(512):
            text = f"{n} " + "x" * 255_000
            cache.put(cache.key("epoch", text, "doc_summary"), dict(body))
            del text
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(cache) == 512
    assert held < 4 << 20, held  # the texts themselves would be 130 MB
    assert cache.get(cache.key("epoch", "7 " + "x" * 255_000, "doc_summary")) == body


def test_cache_is_bounded_in_bytes() -> None:
    cache = DecisionCache(100_000, max_bytes=64 * 1024)
    body = {"reason": "r" * 500, "probs": {"a": 0.1, "b": 0.9}}
    for n in range(2000):
        cache.put(cache.key("e", str(n), None), dict(body))
        assert cache.nbytes <= 64 * 1024
    assert 0 < len(cache) < 2000
    assert cache.get(cache.key("e", "1999", None)) == body  # the newest stays
    assert cache.get(cache.key("e", "0", None)) is None  # the oldest went
    cache.put(cache.key("e", "huge", None), {"x": "y" * 100_000})  # over the whole budget
    assert cache.get(cache.key("e", "huge", None)) is None and cache.nbytes <= 64 * 1024


def test_entry_size_counts_nested_values() -> None:
    small, large = {"a": "x"}, {"a": "x", "b": ["y" * 1000, {"c": (1.5, "z" * 1000)}]}
    assert deep_size(large) > deep_size(small) + 2000


def test_normalise_only_removes_what_tokenizers_ignore() -> None:
    assert normalise("  Hello \n\t world ") == "Hello world"
    assert normalise("cafe\u0301") == "caf\u00e9"
    assert normalise("Hello World") != normalise("hello world")


def test_context_is_bounded_and_keeps_the_last_turn() -> None:
    request = ClassifyRequest.model_validate(
        {
            "messages": [
                {"role": "system", "content": "SYSTEM PROMPT"},
                {"role": "user", "content": "first question " * 10},
                {"role": "assistant", "content": "an answer"},
                {"role": "user", "content": "the last turn"},
                {"role": "assistant", "content": "trailing assistant turn"},
            ]
        }
    )
    text, used = compose_text(request, 15)
    assert text.endswith("\nthe last turn") and used == 15
    assert "SYSTEM" not in text and "trailing" not in text
    assert compose_text(request, 0) == ("the last turn", 0)


def test_read_json_errors_say_what_is_wrong() -> None:
    with pytest.raises(ApiError) as bad_utf8:
        read_json(b'{"text": "\xff"}')
    assert bad_utf8.value.status == 400 and "UTF-8" in bad_utf8.value.detail
    with pytest.raises(ApiError) as too_many:
        parse_classify(
            b'{"messages": [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]}',
            max_context_chars=0,
            max_messages=1,
        )
    assert too_many.value.status == 422 and "TIERWISE_MAX_MESSAGES" in too_many.value.detail


def test_settings_from_env_and_one_source(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv("TIERWISE_MAX_BATCH_SIZE", "7")
    monkeypatch.setenv("TIERWISE_BUNDLE_PATH", str(tmp_path))
    settings = ServingSettings()
    assert settings.max_batch_size == 7 and settings.bundle_path == tmp_path
    with pytest.raises(ValidationError, match="not both"):
        ServingSettings(model_uri="models:/tierwise@champion")
    monkeypatch.delenv("TIERWISE_BUNDLE_PATH")
    with pytest.raises(ValidationError, match="MLflow model URI"):
        ServingSettings(model_uri="/some/path")


def test_importing_the_app_loads_nothing_heavy() -> None:
    import subprocess
    import sys

    code = (
        "import sys, serving.app, serving.cli\n"
        "heavy = [m for m in ('torch', 'sklearn', 'mlflow', 'sentence_transformers', "
        "'classifier.runtime') if m in sys.modules]\n"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
