"""The committed samples in data/samples/: a few hundred records plus files with broken lines.

Regenerate with `python -m data.samples` (or `tierwise generate --sample`). The broken files hold
one example of every malformation ingestion must quarantine, and `broken-manifest.json` says
which line is broken and why, so ingestion tests can assert each reason.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import orjson

from classifier.logschema import MAX_TEXT_CHARS
from data.generator.writer import Knobs, generate

SAMPLES_DIR = Path(__file__).parent / "samples"
SAMPLE_N = 300
SAMPLE_SEED = 20261101
log = logging.getLogger(__name__)


def _broken_logs(good: list[dict]) -> tuple[list[bytes], list[dict]]:
    """Good lines interleaved with one of each malformation; returns (lines, manifest)."""
    lines: list[bytes] = []
    manifest: list[dict] = []

    def bad(line: bytes, reason: str) -> None:
        lines.append(line)
        manifest.append({"line": len(lines), "reason": reason})

    def dump(record: dict) -> bytes:
        return orjson.dumps(record)

    it = iter(good)
    for _ in range(5):
        lines.append(dump(next(it)))
    bad(dump(next(it))[:-25], "bad_json")
    lines.append(dump(next(it)))
    r = dict(next(it))
    del r["route"]
    bad(dump(r), "missing_field:route")
    r = dict(next(it))
    r["ts"] = 1790812800
    bad(dump(r), "mistyped_field:ts")
    r = dict(next(it))
    r["attempts"] = [dict(a, input_tokens="many") for a in r["attempts"]]
    bad(dump(r), "mistyped_field:attempts.input_tokens")
    lines.append(dump(next(it)))
    r = dict(next(it))
    r["route"] = dict(r["route"], tier="mega")
    bad(dump(r), "unknown_tier")
    r = dict(next(it))
    r["text"] = ""
    bad(dump(r), "empty_text")
    r = dict(next(it))
    r["text"] = "   \n "
    bad(dump(r), "blank_text")
    r = dict(next(it))
    r["text"] = "Summarize this log dump:\n" + "x" * (MAX_TEXT_CHARS + 10)
    bad(dump(r), "oversized_text")
    first = good[0]
    bad(dump(first), "duplicate_request_id")
    r = dict(next(it))
    r["surprise"] = True
    bad(dump(r), "unknown_field:surprise")
    bad(b"", "blank_line")
    bad(b"[1, 2, 3]", "not_an_object")
    for record in it:
        lines.append(dump(record))
    return lines, manifest


def write_samples(out_dir: Path = SAMPLES_DIR) -> dict:
    """(Re)write every sample file; returns a summary with the file names and counts."""
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = generate(SAMPLE_N, SAMPLE_SEED, out_dir, knobs=Knobs(max_words=900))
    good = [orjson.loads(line) for line in (out_dir / "logs.jsonl").read_bytes().splitlines()]
    broken_logs = good[:40]
    lines, manifest = _broken_logs(broken_logs)
    (out_dir / "logs-broken.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    known = [r["request_id"] for r in broken_logs]
    corr = [
        {"request_id": known[1], "ts": "2026-10-01T09:00:00.000Z", "kind": "edit"},
        {
            "request_id": "req_does_not_exist",
            "ts": "2026-10-02T10:00:00.000Z",
            "kind": "thumbs_down",
        },
        {"request_id": known[2], "ts": "2026-10-02T10:00:00.000Z", "kind": "shrug"},
        {"request_id": known[3], "ts": "yesterday", "kind": "regenerate"},
    ]
    corr_lines = [orjson.dumps(c) for c in corr] + [
        b'{"request_id": "' + known[4].encode() + b'", "ts"'
    ]
    (out_dir / "corrections-broken.jsonl").write_bytes(b"\n".join(corr_lines) + b"\n")
    corr_manifest = [
        {"line": 2, "reason": "unknown_request_id"},
        {"line": 3, "reason": "mistyped_field:kind"},
        {"line": 4, "reason": "mistyped_field:ts"},
        {"line": 5, "reason": "bad_json"},
    ]
    (out_dir / "broken-manifest.json").write_text(
        json.dumps(
            {
                "logs-broken.jsonl": {"lines": len(lines), "broken": manifest},
                "corrections-broken.jsonl": {
                    "lines": len(corr_lines),
                    "broken": corr_manifest,
                    "note": "joined against logs-broken.jsonl",
                },
            },
            indent=2,
        )
        + "\n",
        encoding="utf-8",
    )
    return {
        **summary.to_dict(),
        "broken_logs": len(manifest),
        "broken_corrections": len(corr_manifest),
        "seconds": None,
    }


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    log.info(json.dumps(write_samples(), indent=2))
