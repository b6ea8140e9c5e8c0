"""Fit the static student to requests: model2vec's own fine-tuning, on labelled rows.

The distilled student knows what words mean; it does not know which words decide an intent or
a risk ("summarize", "classify", a code fence, "dose"). model2vec's
`StaticModelForClassification` trains the token vectors and a small head together (one
multi-label task: the intent and the risk of each row); we keep only the trained vectors, folded
back into a plain static model. The served graph is unchanged (Gather + means), so latency is
unchanged; the heads are then fitted on the tuned embedding as before.

The tuned student is cached under a key of the base student, the training rows and the
parameters, so a rebuild with the same data reuses it and the embedding cache stays valid.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

DEFAULT_PARAMS: dict[str, Any] = {
    "max_epochs": 12,
    "early_stopping_patience": 3,
    "batch_size": 256,
    "learning_rate": 1e-3,
    "hidden_dim": 256,
    "seed": 42,
}


def tuned_key(base_key: str, texts: Sequence[str], labels: Sequence[Sequence[str]],
              params: dict[str, Any]) -> str:  # fmt: skip
    digest = hashlib.sha256()
    digest.update(base_key.encode())
    digest.update(json.dumps(params, sort_keys=True).encode())
    for text, label in zip(texts, labels, strict=True):
        digest.update(hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest())
        digest.update("|".join(label).encode())
    return digest.hexdigest()[:16]


def finetune_student(
    base_dir: Path,
    texts: Sequence[str],
    intents: Sequence[str],
    risks: Sequence[str],
    *,
    params: dict[str, Any] | None = None,
    cache_root: Path | None = None,
    progress: bool = True,
) -> Path:
    """Directory of a student whose vectors were trained on (text, intent, risk) rows.

    `texts` should be what the served window sees (training.model.embed.TextWindow.cut).
    """
    from training.model.distill import default_cache_dir

    params = {**DEFAULT_PARAMS, **(params or {})}
    base_meta = json.loads((Path(base_dir) / "student.json").read_text())
    labels = [[i, f"risk:{r}"] for i, r in zip(intents, risks, strict=True)]
    key = tuned_key(str(base_meta.get("key")), texts, labels, params)
    root = Path(cache_root) if cache_root is not None else default_cache_dir()
    target = root / f"student-tuned-{key}"
    if (target / "student.json").exists():
        return target
    root.mkdir(parents=True, exist_ok=True)
    # One lock per key, as distill_student does: two builds of the same rows at once tune once
    # (the second waits and reuses it) instead of racing to rename onto the same directory.
    with open(root / f".tuned-{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (target / "student.json").exists():  # another process finished while we waited
            return target
        tmp = Path(tempfile.mkdtemp(prefix=".tuned-", dir=root))
        try:
            history = _train(Path(base_dir), list(texts), labels, params, tmp, progress)
            meta = {**base_meta, "key": f"tuned-{key}", "tuned_from": base_meta.get("key"),
                    "tuning": {"rows": len(texts), "params": params, **history}}  # fmt: skip
            (tmp / "student.json").write_text(json.dumps(meta, indent=2))
            os.replace(tmp, target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def _train(base_dir: Path, texts: list[str], labels: list[list[str]], params: dict[str, Any],
           out: Path, progress: bool) -> dict[str, Any]:  # fmt: skip
    import torch
    from model2vec import StaticModel
    from model2vec.train import StaticModelForClassification

    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    base = StaticModel.from_pretrained(str(base_dir))
    model = StaticModelForClassification.from_static_model(
        model=base, n_layers=1, hidden_dim=int(params["hidden_dim"])
    )
    logger.info("fine-tuning the student on %d labelled rows", len(texts))
    # model2vec's loop draws tqdm bars of its own; tqdm reads TQDM_DISABLE when a bar is made
    previous = os.environ.get("TQDM_DISABLE")
    if not progress:
        os.environ["TQDM_DISABLE"] = "1"
    try:
        model.fit(
            texts,
            labels,
            max_epochs=int(params["max_epochs"]),
            early_stopping_patience=int(params["early_stopping_patience"]),
            batch_size=int(params["batch_size"]),
            learning_rate=float(params["learning_rate"]),
            random_seed=int(params["seed"]),
        )
    finally:
        if previous is None:
            os.environ.pop("TQDM_DISABLE", None)
        else:
            os.environ["TQDM_DISABLE"] = previous
    model.to_static_model().save_pretrained(out)
    # the tokenizer and config come from the base student unchanged
    return {"classes": list(model.classes_)}
