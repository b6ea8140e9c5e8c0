"""Training configuration: one YAML of defaults, `--set a.b=value` overrides, validated once.

Validation is strict (unknown keys are refused) because a misspelt override that silently does
nothing costs a whole training run. The resolved config is logged whole with every MLflow run.

Example:
    cfg = load_config(overrides=["heads.max_iter=50"])
    cfg.heads.max_iter  # 50
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from classifier.errors import ConfigError
from classifier.taxonomy import Taxonomy, load_taxonomy

DEFAULTS_PATH = Path(__file__).with_name("defaults.yaml")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DataConfig(_Section):
    eval_fraction: float = Field(0.2, gt=0.0, lt=1.0)
    calib_fraction: float = Field(0.1, ge=0.0, lt=1.0)
    holdout_templates: float = Field(0.1, ge=0.0, lt=1.0)
    holdout_domains: int = Field(1, ge=0)
    max_train_rows: int | None = Field(None, gt=0)
    seed: int = 13


class GenerateConfig(_Section):
    n: int = Field(100_000, gt=0)
    seed: int = 7


class EmbedConfig(_Section):
    cache: bool = True


class TeacherConfig(_Section):
    enabled: bool = True
    train_sample: int = Field(1500, gt=0)
    eval_sample: int = Field(400, gt=0)
    latency_sample: int = Field(40, gt=0)
    batch_size: int = Field(64, gt=0)


class HeadsConfig(_Section):
    """TierwiseHeads parameters (each head is a HistGradientBoostingClassifier)."""

    max_iter: int = Field(100, gt=0)
    learning_rate: float = Field(0.1, gt=0.0)
    max_leaf_nodes: int = Field(31, gt=1)
    min_samples_leaf: int = Field(20, gt=0)
    l2_regularization: float = Field(0.0, ge=0.0)
    propensity_clip: float = Field(0.05, gt=0.0, le=1.0)
    random_state: int = 0
    n_threads: int | None = Field(2, gt=0)
    class_balance: float = Field(0.0, ge=0.0, le=1.0)
    tier_head: Literal["ordinal", "per_tier"] = "ordinal"  # model.tier_head vs one per tier
    # heads that also read the token counts of training.model.text_features ([] : none)
    text_features: list[Literal["intent", "risk", "tier"]] = []


class CalibrationConfig(_Section):
    ece_threshold: float = Field(0.02, ge=0.0)
    n_bins: int = Field(15, gt=1)


class EvaluateConfig(_Section):
    tier_threshold: float = Field(0.5, gt=0.0, lt=1.0)


class TrackingConfig(_Section):
    tracking_uri: str | None = None
    experiment: str = "tierwise"
    registered_model: str = "tierwise"


class PromoteTolerance(_Section):
    """How much a candidate may worsen what it is not promoted for (training.promote.gate)."""

    ece: float = Field(0.02, ge=0.0)  # per head, absolute
    failure: float = Field(0.005, ge=0.0)  # replayed failure rate, absolute
    cost: float = Field(0.02, ge=0.0)  # replayed cost at the champion's failure rate, a share


class PromoteConfig(_Section):
    """The promotion gate (training.promote): every bar a candidate must clear, none negative."""

    metric: str = "mean_macro_f1"
    min_delta: float = Field(0.0, ge=0.0)  # a negative gain would let a worse model through
    tolerance: PromoteTolerance = PromoteTolerance()
    max_rows: int = Field(5000, gt=0)  # newest rows outside both training windows scored
    min_rows: int = Field(200, gt=0)  # fewer such rows: refused
    replays: int = Field(4, gt=0)  # playbook draws per request and tier with --truth


class RealTextWeights(_Section):
    """Row weights in the intent and risk heads (the tier heads see simulated logs only)."""

    gold: float = Field(3.0, gt=0.0)  # hand-labelled real rows
    authored: float = Field(3.0, ge=0.0)  # hand-written training requests
    weak: float = Field(1.0, ge=0.0)  # rows the label model labelled
    sim: float = Field(0.2, ge=0.0)  # simulated log rows


class FinetuneConfig(_Section):
    enabled: bool = True  # fit the student's vectors to the labelled rows (model2vec)
    sim_rows: int = Field(8000, ge=0)  # simulated training rows mixed into that fit
    epochs: int = Field(12, gt=0)  # at most; early stopping on a validation slice


class AbstainConfig(_Section):
    """`Classifier.classify` abstains below these; written to the bundle's manifest."""

    intent_prob: float = Field(0.45, ge=0.0, le=1.0)
    intent_margin: float = Field(0.10, ge=0.0, le=1.0)
    risk_prob: float = Field(0.45, ge=0.0, le=1.0)


class RealTextConfig(_Section):
    """Real request texts (data/realtext, training.realtext) beside the simulated logs."""

    enabled: bool = True
    weights: RealTextWeights = RealTextWeights()
    weak: bool = True  # use data/realtext/weak.jsonl
    calib_fraction: float = Field(0.3, ge=0.0, lt=1.0)  # of gold rows: calibration, not training
    near_duplicate: float = Field(0.95, gt=0.0, le=1.0)  # cosine to a dev text: dropped
    finetune: FinetuneConfig = FinetuneConfig()
    abstain: AbstainConfig = AbstainConfig()
    seed: int = 0


class TrainConfig(_Section):
    # A taxonomy YAML file (classifier.taxonomy; path relative to the working directory), or
    # null for the default seven intents, three risks and three tiers.
    taxonomy: str | None = None
    data: DataConfig = DataConfig()
    generate: GenerateConfig = GenerateConfig()
    embed: EmbedConfig = EmbedConfig()
    teacher: TeacherConfig = TeacherConfig()
    heads: HeadsConfig = HeadsConfig()
    calibration: CalibrationConfig = CalibrationConfig()
    evaluate: EvaluateConfig = EvaluateConfig()
    tracking: TrackingConfig = TrackingConfig()
    promote: PromoteConfig = PromoteConfig()
    realtext: RealTextConfig = RealTextConfig()

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def flat(self) -> dict[str, Any]:
        """`section.key -> value`, the shape MLflow params want."""
        return dict(_flatten(self.to_dict()))

    def hgb_params(self) -> dict[str, Any]:
        """TierwiseHeads arguments: the `heads` section plus the taxonomy's head widths."""
        taxonomy = self.label_taxonomy()
        return self.heads.model_dump() | {
            "n_intents": len(taxonomy.intents),
            "n_risks": len(taxonomy.risks),
            "n_tiers": len(taxonomy.tiers),
        }

    def label_taxonomy(self) -> Taxonomy:
        """The labels this run trains (validated when the config is loaded)."""
        return load_taxonomy(self.taxonomy)

    def check_taxonomy(self, source: Path) -> None:
        """Load the taxonomy now, so that a bad file fails before any training work."""
        taxonomy = self.label_taxonomy()
        if not taxonomy.is_default and self.realtext.enabled:
            raise ConfigError(
                f"{source}: realtext.enabled: the real-text rows are labelled with the default "
                f"taxonomy, this run trains taxonomy {taxonomy.version!r} ({self.taxonomy}); "
                "set realtext.enabled=false"
            )


def load_config(path: Path | None = None, overrides: Iterable[str] = ()) -> TrainConfig:
    """Read `path` (default: the packaged defaults), apply `key=value` overrides, validate."""
    source = Path(path) if path is not None else DEFAULTS_PATH
    try:
        raw = yaml.safe_load(source.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read training config {source}: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: the top level must be a mapping of sections")
    for override in overrides:
        apply_override(raw, override)
    try:
        config = TrainConfig.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(
            f"invalid training config ({source}, overrides {list(overrides)}): {problems}. "
            f"See {DEFAULTS_PATH} for the keys and their meaning."
        ) from exc
    config.check_taxonomy(source)
    return config


def apply_override(raw: dict[str, Any], override: str) -> None:
    """Set `a.b=value` in a nested dict; the value is parsed as YAML (`50`, `true`, `null`)."""
    key, sep, text = override.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"override {override!r} is not of the form section.key=value")
    parts = key.strip().split(".")
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"override {override!r}: value is not valid YAML ({exc})") from exc
    node = raw
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(f"override {override!r}: {part!r} is a value, not a section")
        node = child
    node[parts[-1]] = value


def _flatten(tree: Mapping[str, Any], prefix: str = "") -> Iterable[tuple[str, Any]]:
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            yield from _flatten(value, f"{name}.")
        else:
            yield name, value
