"""Shared fixtures: the distilled student and a real tiny bundle, built once per session.

`tiny_bundle` is a real bundle exported by training.model.export from heads fitted on a small
synthetic labelled set (every intent, risk and tier present, censored tier labels). The
student is distilled once per machine into the tierwise cache (~30-60 s the first time).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

_SUBJECTS = [
    "the quarterly sales report",
    "this customer email",
    "our onboarding guide",
    "the incident postmortem",
    "the product launch notes",
    "this support ticket",
    "the vendor contract",
    "the patient discharge summary",
    "the loan application",
    "yesterday's standup notes",
    "the API changelog",
    "this blog draft",
]
_TEMPLATES = {
    "summarize": [
        "Summarize {s} in three bullet points.",
        "Give me a short summary of {s}.",
        "TL;DR of {s}, please.",
        "Condense {s} into one paragraph.",
    ],
    "transform": [
        "Translate {s} into French.",
        "Rewrite {s} in a friendlier tone.",
        "Fix the grammar in {s}.",
        "Convert {s} into a markdown table.",
    ],
    "classify": [
        "Is the sentiment of {s} positive or negative?",
        "Tag {s} with a topic label.",
        "Which team should handle {s}? Answer with one category.",
        "Classify {s} as urgent or not urgent.",
    ],
    "plan": [
        "Make a step-by-step plan to act on {s}.",
        "Analyse the trade-offs raised in {s}.",
        "Break the work in {s} into milestones with risks.",
        "Work out a schedule and budget from {s}.",
    ],
    "generate_code": [
        "Write a Python function that parses {s}.",
        "Write SQL to load {s} into a table.",
        "Fix this bug: def f(x): return x +  # in {s}",
        "Write a regex that extracts dates from {s}.",
    ],
    "review_policy": [
        "Check {s} against our data retention policy.",
        "Does {s} comply with GDPR?",
        "Review {s} for violations of the code of conduct.",
        "Flag anything in {s} that breaks the safety rules.",
    ],
    "chat": [
        "What do you think about {s}?",
        "Tell me a joke about {s}.",
        "Brainstorm ten names inspired by {s}.",
        "Write a short poem about {s}.",
    ],
}
_HIGH = ("patient", "loan", "contract", "GDPR")
_MEDIUM = ("customer", "support", "blog", "launch")
_NEEDS = {
    "transform": 0,
    "classify": 0,
    "summarize": 1,
    "chat": 1,
    "generate_code": 1,
    "plan": 2,
    "review_policy": 2,
}


@dataclass(frozen=True)
class TinyModel:
    """What `tiny_model` built: the student, fitted heads, the bundle and its training data."""

    student: Any
    heads: Any
    bundle_dir: Path
    data: dict[str, Any]


def make_synthetic(n: int = 420, seed: int = 7) -> dict[str, Any]:
    """Labelled synthetic rows in TrainingSet's column layout (intent/risk -1 = unknown)."""
    from classifier.taxonomy import INTENTS

    rng = random.Random(seed)
    texts, intents, risks, tier_ok, propensity, first = [], [], [], [], [], []
    for i in range(n):
        intent = INTENTS[i % len(INTENTS)]
        subject = rng.choice(_SUBJECTS)
        text = rng.choice(_TEMPLATES[intent]).format(s=subject)
        if rng.random() < 0.3:
            text += " " + rng.choice(["Thanks!", "Be concise.", "It is for the board.", "ASAP."])
        risk = 2 if any(w in text for w in _HIGH) else 1 if any(w in text for w in _MEDIUM) else 0
        need = max(_NEEDS[intent], 2 if risk == 2 else 0)
        if rng.random() < 0.1:
            need = min(2, need + 1)
        start = rng.choice([0, 0, 1, 2])
        p = {0: 0.5, 1: 0.25, 2: 0.25}[start]
        row = [-1, -1, -1]
        tier = start
        while True:  # censored outcomes: what a router that escalates on failure observes
            if tier >= need:
                for t in range(tier, 3):
                    row[t] = 1
                break
            for t in range(0, tier + 1):
                row[t] = 0
            if tier == 2:
                break
            tier += 1
        texts.append(text)
        intents.append(INTENTS.index(intent) if rng.random() > 0.05 else -1)
        risks.append(risk if rng.random() > 0.05 else -1)
        tier_ok.append(row)
        propensity.append(p if rng.random() > 0.2 else float("nan"))
        first.append(start)
    return {
        "text": texts,
        "intent": np.array(intents, dtype=np.int8),
        "risk": np.array(risks, dtype=np.int8),
        "tier_ok": np.array(tier_ok, dtype=np.int8),
        "propensity": np.array(propensity, dtype=np.float64),
        "first_tier": np.array(first, dtype=np.int8),
    }


@pytest.fixture(scope="session")
def student_dir() -> Path:
    """Directory of the distilled static student (cached across sessions)."""
    from training.model.distill import distill_student

    return distill_student()


@pytest.fixture(scope="session")
def tiny_model(student_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> TinyModel:
    """Student + heads (30 boosting rounds) + exported bundle from the synthetic set."""
    from training.model.embed import StaticStudent
    from training.model.export import export_bundle
    from training.model.heads import TierwiseHeads

    data = make_synthetic()
    student = StaticStudent.load(student_dir)
    X = student.encode(data["text"])
    heads = TierwiseHeads(max_iter=30, min_samples_leaf=5).fit(
        X,
        data["intent"],
        data["risk"],
        data["tier_ok"],
        data["propensity"],
        first_tier=data["first_tier"],
    )
    bundle = export_bundle(
        student,
        heads,
        tmp_path_factory.mktemp("bundles") / "tiny",
        name="tiny",
        version="1",
        extra_manifest={"metrics": {"note": "synthetic fixture"}},
    )
    return TinyModel(student=student, heads=heads, bundle_dir=bundle, data=data)


@pytest.fixture(scope="session")
def tiny_bundle(tiny_model: TinyModel) -> Path:
    """Path of a real, verified bundle. Treat as read-only: copy it before tampering."""
    return tiny_model.bundle_dir


class StubService:
    """An ASGI app standing in for a misbehaving tierwise service: what /classify answers next
    (status, delay, body) and the client port of every request (one port per connection)."""

    def __init__(self) -> None:
        self.status = 200
        self.delay_s = 0.0
        self.body: Any = {}
        self.ports: list[int] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        self.ports.append(scope["client"][1])
        while (await receive()).get("more_body"):
            pass
        classify = scope["path"].startswith("/classify")
        if classify and self.delay_s:
            await asyncio.sleep(self.delay_s)
        body = self.body if isinstance(self.body, bytes) else json.dumps(self.body).encode()
        await send({"type": "http.response.start", "status": self.status if classify else 200,
                    "headers": [(b"content-type", b"application/json")]})  # fmt: skip
        await send({"type": "http.response.body", "body": body})


@pytest.fixture(scope="module")
def stub_server() -> Iterator[tuple[StubService, str]]:
    """A real uvicorn server on a loopback port (in a thread) serving a `StubService`."""
    import uvicorn

    stub = StubService()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(stub, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "stub server did not start"
        time.sleep(0.02)
    yield stub, f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


@pytest.fixture
def stub(stub_server: tuple[StubService, str]) -> StubService:
    """The module's stub service, reset to answering 200 {} at once."""
    service = stub_server[0]
    service.status, service.delay_s, service.body, service.ports = 200, 0.0, {}, []
    return service


@pytest.fixture(scope="session")
def run_async() -> Iterator[Any]:
    """run_async(coroutine): one event loop for the whole session. LiteLLM's logging worker
    stays bound to the first loop it ran on and delivers no callbacks on a later one."""
    loop = asyncio.new_event_loop()
    yield loop.run_until_complete
    loop.close()
