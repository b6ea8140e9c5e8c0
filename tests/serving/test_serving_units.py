"""Cache, input composition and settings: the parts with no model in them."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from serving.cache import DecisionCache, normalise
from serving.errors import ApiError
from serving.inputs import compose_text, parse_classify, read_json
from serving.schemas import ClassifyRequest
from serving.settings import ServingSettings


def test_lru_evicts_least_recent_and_counts() -> None:
    cache = DecisionCache(2)
    cache.put(("h", "a", None), 1)
    cache.put(("h", "b", None), 2)
    assert cache.get(("h", "a", None)) == 1  # a is now most recent
    cache.put(("h", "c", None), 3)
    assert cache.get(("h", "b", None)) is None and cache.get(("h", "c", None)) == 3
    assert (cache.hits, cache.misses, len(cache)) == (2, 1, 2)
    assert cache.hit_ratio() == pytest.approx(2 / 3)
    off = DecisionCache(0)
    off.put(("h", "a", None), 1)
    assert off.get(("h", "a", None)) is None and len(off) == 0


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
