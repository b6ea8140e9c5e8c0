"""Every knob of the service in one pydantic-settings class (env prefix `TIERWISE_`).

Validated once at start-up, so a typo in a deployment fails before the first request, not during it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from limits import parse as parse_rate
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

FeedbackRole = Literal["client", "reviewer"]


class FeedbackCaller(BaseModel):
    """One caller of POST /feedback: its token and what it may send.

    `client` (a router): attempt outcomes and corrections, no labels. `reviewer` (a human-review
    tool): the same plus intent/risk labels, which are stored as `source: human_review`.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    token: SecretStr = Field(min_length=1)
    role: FeedbackRole = "client"


class ServingSettings(BaseSettings):
    """Service configuration; every field can be set as `TIERWISE_<NAME>` in the environment."""

    model_config = SettingsConfigDict(env_prefix="TIERWISE_", extra="ignore", frozen=True)

    # Where the model comes from: a bundle directory, or an MLflow registry URI.
    bundle_path: Path | None = Field(
        default=None, description="bundle directory to serve (watched for changes)"
    )
    model_uri: str | None = Field(
        default=None,
        description="MLflow URI such as `models:/tierwise@champion` (instead of bundle_path)",
    )
    mlflow_tracking_uri: str | None = Field(
        default=None, description="MLflow tracking/registry URI (default: MLflow's own default)"
    )
    model_cache_dir: Path = Field(
        default=Path(".tierwise-cache/models"),
        description="where bundles downloaded from MLflow are kept, one folder per version",
    )
    require_model: bool = Field(
        default=False,
        description="exit at start-up when the first load fails (default: start unready, 503)",
    )

    # Runtime.
    intra_op_threads: int = Field(
        default=1, ge=1, le=64, description="onnxruntime intra-op threads"
    )
    classify_offload: bool = Field(
        default=False,
        description="run every classify in the worker threads, short texts too (measured slower)",
    )
    inline_max_chars: int = Field(
        default=2048,
        ge=0,
        description="requests up to this many characters are classified on the event loop; "
        "longer ones (and larger batches) in the worker threads",
    )
    classify_threads: int = Field(
        default=2, ge=1, le=64, description="worker threads for long requests"
    )
    max_pending: int = Field(
        default=64, ge=1, description="long requests waiting for a worker thread; beyond: 503"
    )
    request_budget_s: float = Field(
        default=5.0,
        gt=0.0,
        description="seconds a long request may take in the worker threads; beyond: 503",
    )
    gc_freeze: bool = Field(
        default=True,
        description="after the first load, freeze the start-up objects out of the garbage "
        "collector's reach and make young collections rarer (serving/gctune.py)",
    )
    warmup_requests: int = Field(
        default=20, ge=0, le=10_000, description="classifications per load"
    )

    # Request bounds.
    max_body_bytes: int = Field(default=262_144, ge=1_024, description="larger bodies get 413")
    max_batch_size: int = Field(default=64, ge=1, le=10_000, description="larger batches get 413")
    max_context_chars: int = Field(
        default=300,
        ge=0,
        description="characters of earlier chat turns prepended to the last user turn (0: none)",
    )
    max_messages: int = Field(default=200, ge=1, description="chat messages per request")

    # Confidence: below a margin the response abstains and the route escalates.
    abstain_intent_margin: float = Field(
        default=0.40, ge=0.0, le=1.0, description="abstain when top intent probability is below"
    )
    abstain_tier_margin: float = Field(
        default=0.50,
        ge=0.0,
        le=1.0,
        description="abstain when P(ok) of the predicted tier is below",
    )
    unknown_feature: Literal["default", "reject"] = Field(
        default="default",
        description="unknown `feature`: serve with the default contract and a note, or answer 422",
    )

    # Decision cache and reload.
    cache_size: int = Field(default=4096, ge=0, description="decision cache entries (0: off)")
    cache_max_bytes: int = Field(
        default=64 << 20, ge=1024, description="decision cache bytes (least recently used go)"
    )
    reload_interval_s: float = Field(
        default=5.0, ge=0.0, description="seconds between checks for a new bundle (0: never)"
    )
    reload_retry_base_s: float = Field(
        default=1.0, gt=0.0, description="first wait before retrying a bundle that failed to load"
    )
    reload_retry_max_s: float = Field(
        default=300.0, gt=0.0, description="longest wait between retries (the wait doubles)"
    )

    # Decision-layer inputs (None: the packaged defaults).
    contracts_path: Path | None = None
    routing_table_path: Path | None = None

    admin_token: SecretStr | None = Field(
        default=None, description="bearer token for admin endpoints, identity `admin`"
    )
    admin_tokens: dict[str, SecretStr] = Field(
        default_factory=dict,
        description="more admin identities, name -> token (JSON); the audit names who changed what",
    )
    switches_path: Path | None = Field(
        default=None,
        description="file the switches are saved to (atomically) and restored from at start-up; "
        "required when admin is enabled",
    )
    audit_log_path: Path | None = Field(
        default=None,
        description="append-only JSONL audit of switch changes (default: beside switches_path)",
    )
    feedback_callers: dict[str, FeedbackCaller] = Field(
        default_factory=dict,
        description="POST /feedback callers, name -> {token, role: client|reviewer} (JSON); "
        "none: feedback disabled",
    )
    feedback_rate_limit: str = Field(
        default="6000/minute",
        description="feedback entries per caller (`limits` notation, e.g. 100/second)",
    )

    # Online comparison (serving/experiment.py) and the logs that feed the next training run.
    policy_mode: Literal["learned", "rules", "shadow", "ab"] = Field(
        default="learned",
        description="learned | rules | shadow (both decide, one served) | ab (split by request_id)",
    )
    shadow_serve: Literal["learned", "rules"] = Field(
        default="learned", description="in shadow mode, the policy whose decision is served"
    )
    ab_learned_share: float = Field(
        default=0.5, ge=0.0, le=1.0, description="in ab mode, share of request ids on `learned`"
    )
    ab_salt: str = Field(default="", description="changes the split: a new salt, a new draw")
    ab_feature_shares: dict[str, Annotated[float, Field(ge=0.0, le=1.0, strict=True)]] = Field(
        default_factory=dict,
        description="in ab mode, per-feature share of units on `learned` (JSON, feature -> 0-1); "
        "a feature not listed takes TIERWISE_AB_LEARNED_SHARE",
    )
    shadow_rate: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description="share of units whose other policy is decided and logged as the shadow "
        "(default: 1 in shadow mode, 0 otherwise)",
    )
    sticky_escalation: bool = Field(
        default=True,
        description="a conversation escalated via /feedback stays at least at that tier for its "
        "next turns (needs `conversation_id` on /classify)",
    )
    conversation_ttl_s: float = Field(
        default=3600.0, gt=0.0, description="how long an escalated conversation keeps its floor"
    )
    conversation_max: int = Field(
        default=100_000, ge=1, description="escalated conversations remembered per worker"
    )
    rules_path: Path | None = Field(
        default=None, description="rule router YAML for the rules policy (default: packaged)"
    )
    log_dir: Path | None = Field(
        default=None,
        description="decisions.jsonl, outcomes.jsonl, corrections.jsonl go here (none: no logs)",
    )
    log_rotate_bytes: int = Field(
        default=0, ge=0, description="rotate a log file past this size (0: never)"
    )
    log_queue_bytes: int = Field(
        default=64 << 20,
        ge=4096,
        description="bytes waiting for each log writer; beyond: dropped (and /feedback refused)",
    )
    feedback_window: int = Field(
        default=50_000, ge=1, description="recent decisions kept in memory to join feedback"
    )
    # Drift against the bundle's training reference (serving/drift.py, docs/drift.md).
    drift_window: int = Field(
        default=20_000, ge=100, description="requests in the rolling drift window (per worker)"
    )
    drift_psi_threshold: float = Field(
        default=0.2, gt=0.0, description="PSI above which a signal counts as drifted"
    )
    drift_rate_threshold: float = Field(
        default=0.1, gt=0.0, le=1.0, description="abstain/failure rate change that counts"
    )
    drift_min_requests: int = Field(
        default=500, ge=1, description="requests in the window before anything is judged"
    )

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65_535)
    log_level: str = "info"

    # Several worker processes (`tierwise serve --workers N`; docs/serving.md, "Workers").
    workers: int | None = Field(
        default=None, ge=1, le=256, description="worker processes (none: one per core)"
    )
    sync_interval_s: float = Field(
        default=0.25,
        gt=0.0,
        le=1.0,
        description="seconds between checks for switches saved by another worker (and, with "
        "several workers, between publications of this worker's own counters to /metrics)",
    )

    @field_validator("feedback_rate_limit")
    @classmethod
    def _rate(cls, value: str) -> str:
        try:
            parse_rate(value)
        except ValueError as exc:
            raise ValueError(
                f"TIERWISE_FEEDBACK_RATE_LIMIT={value!r} is not a rate; use e.g. 100/second, "
                "6000/minute"
            ) from exc
        return value

    @model_validator(mode="after")
    def _tokens(self) -> ServingSettings:
        """One token, one identity: the audit and the feedback source are named by the token."""
        owners: dict[str, str] = {}
        holders = [(f"admin {n!r}", t) for n, t in self.admin_identities().items()]
        holders += [(f"feedback caller {n!r}", c.token) for n, c in self.feedback_callers.items()]
        for holder, secret in holders:
            owner = owners.setdefault(secret.get_secret_value(), holder)
            if owner != holder:
                raise ValueError(
                    f"{holder} uses the same token as {owner}; give every identity its own "
                    "token (feedback tokens must differ from admin tokens)"
                )
        if self.admin_identities() and self.switches_path is None:
            raise ValueError(
                "admin is enabled but TIERWISE_SWITCHES_PATH is not set: switches would be lost "
                "on restart; set it to a file such as /var/lib/tierwise/switches.json"
            )
        return self

    def admin_identities(self) -> dict[str, SecretStr]:
        """Every admin token by identity (`admin` for TIERWISE_ADMIN_TOKEN); empty: disabled."""
        found = {k: v for k, v in self.admin_tokens.items() if v.get_secret_value()}
        if self.admin_token is not None and self.admin_token.get_secret_value():
            found.setdefault("admin", self.admin_token)
        return found

    @property
    def audit_path(self) -> Path | None:
        if self.audit_log_path is not None:
            return self.audit_log_path
        if self.switches_path is None:
            return None
        return self.switches_path.with_name(self.switches_path.stem + "-audit.jsonl")

    @model_validator(mode="after")
    def _one_source(self) -> ServingSettings:
        if self.bundle_path is not None and self.model_uri is not None:
            raise ValueError(
                "set either TIERWISE_BUNDLE_PATH or TIERWISE_MODEL_URI, not both: "
                "the service serves exactly one model source"
            )
        if self.model_uri is not None and not self.model_uri.startswith(("models:/", "runs:/")):
            raise ValueError(
                f"TIERWISE_MODEL_URI={self.model_uri!r} is not an MLflow model URI; "
                "use e.g. models:/tierwise@champion"
            )
        return self

    @property
    def source_description(self) -> str:
        if self.bundle_path is not None:
            return str(self.bundle_path)
        return self.model_uri or "(none configured)"
