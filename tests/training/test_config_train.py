"""Training config: packaged defaults, `--set` overrides, strict validation, logged shape."""

from __future__ import annotations

from pathlib import Path

import pytest

from classifier.errors import ConfigError
from training.config import DEFAULTS_PATH, load_config


def test_defaults_load_and_fit_on_one_screen() -> None:
    cfg = load_config()
    assert cfg.heads.max_iter > 0 and 0 < cfg.data.eval_fraction < 1
    assert len(DEFAULTS_PATH.read_text().splitlines()) <= 60


def test_overrides_are_parsed_as_yaml_values() -> None:
    cfg = load_config(
        overrides=[
            "heads.max_iter=50",
            "teacher.enabled=false",
            "tracking.tracking_uri=sqlite:///x.db",
            "data.max_train_rows=null",
        ]
    )
    assert cfg.heads.max_iter == 50
    assert cfg.teacher.enabled is False
    assert cfg.tracking.tracking_uri == "sqlite:///x.db"
    assert cfg.data.max_train_rows is None


def test_misspelt_key_is_refused_with_its_name() -> None:
    with pytest.raises(ConfigError, match="heads.max_iters"):
        load_config(overrides=["heads.max_iters=5"])


def test_out_of_range_value_is_refused() -> None:
    with pytest.raises(ConfigError, match="eval_fraction"):
        load_config(overrides=["data.eval_fraction=1.5"])


@pytest.mark.parametrize("override", ["heads.max_iter", "=5", "heads.max_iter.x=1"])
def test_malformed_override_is_refused(override: str) -> None:
    with pytest.raises(ConfigError):
        load_config(overrides=[override])


def test_config_file_replaces_defaults(tmp_path: Path) -> None:
    path = tmp_path / "cfg.yaml"
    path.write_text("heads:\n  max_iter: 7\n")
    cfg = load_config(path, ["heads.learning_rate=0.3"])
    assert (cfg.heads.max_iter, cfg.heads.learning_rate) == (7, 0.3)
    assert cfg.data.eval_fraction == load_config().data.eval_fraction  # unset keys keep defaults


def test_flat_view_covers_every_key_and_heads_build() -> None:
    from training.model.heads import TierwiseHeads

    cfg = load_config()
    flat = cfg.flat()
    assert flat["heads.max_iter"] == cfg.heads.max_iter
    assert {k.split(".")[0] for k in flat} == set(cfg.to_dict())
    assert TierwiseHeads(**cfg.hgb_params()).get_params()["max_iter"] == cfg.heads.max_iter


def test_a_taxonomy_in_the_config_sizes_the_heads_and_is_checked_at_load(tmp_path: Path) -> None:
    example = Path(__file__).resolve().parents[2] / "docs/examples/taxonomy/taxonomy.yaml"
    cfg = load_config(overrides=[f"taxonomy={example}", "realtext.enabled=false"])
    params = cfg.hgb_params()
    assert (params["n_intents"], params["n_risks"], params["n_tiers"]) == (5, 3, 4)
    with pytest.raises(ConfigError, match="realtext.enabled: the real-text rows are labelled"):
        load_config(overrides=[f"taxonomy={example}"])
    bad = tmp_path / "taxonomy.yaml"
    bad.write_text("version: x\nintents: [a, b]\nrisks: [lo, hi]\ntiers: [only]\n")
    with pytest.raises(ConfigError, match=f"{bad}: tiers: needs at least 2 entries"):
        load_config(overrides=[f"taxonomy={bad}", "realtext.enabled=false"])
    assert load_config().hgb_params()["n_tiers"] == 3  # the default taxonomy


def test_train_refuses_generated_default_logs_under_a_custom_taxonomy(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from classifier.cli import main

    example = Path(__file__).resolve().parents[2] / "docs/examples/taxonomy/taxonomy.yaml"
    args = ["train", "--build-default", "--set", f"taxonomy={example}",
            "--set", "realtext.enabled=false"]  # fmt: skip
    assert main(args) != 0
    assert "--build-default generates logs in the default taxonomy" in capsys.readouterr().err
