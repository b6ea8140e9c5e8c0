"""Added latency of tierwise in LiteLLM's auto router, in process and over HTTP (p50/p99 in µs).

Two measurements, on the bundle given (default: models/default), one onnxruntime thread:

1. the plugin alone: `await plugin.classify(context)` with a LiteLLM `RoutingContext`, in process
   (`LocalClient`) and over HTTP (`HttpClient` to a `tierwise serve` on loopback, decision cache
   off so that every call is a miss);
2. a whole `Router.acompletion` with mocked model answers, with tierwise as the classifier
   (in process, over HTTP, with and without its callback) against a plugin that returns a fixed
   tier at once (with a no-op logger for the variant with the callback: any registered logger
   makes LiteLLM build its logging payload); the variants are interleaved so that drift hits all
   alike, and the added latency is the difference of medians.

    python scripts/bench_gateway.py --bundle models/default --n 3000 --router-n 400
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no cost-map download
os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from classifier.client import FailurePolicy  # noqa: E402
from classifier.http_client import HttpClient  # noqa: E402
from classifier.local_client import LocalClient  # noqa: E402
from integrations.litellm import TierwiseClassifier, auto_router_params  # noqa: E402

TEXTS = [
    "Translate to French: the meeting moved to Tuesday.",
    "Is this review positive or negative? 'Arrived broken, support never answered.'",
    "Summarize this thread for the weekly update: the deploy slipped two days because the "
    "migration script failed on the replica; we rolled back, fixed the index and re-ran it.",
    "Write a Python function that parses ISO 8601 durations like P3DT4H into seconds, with tests.",
    "Make a step-by-step plan to move our billing service from cron jobs to a queue, with risks.",
    "Does this clause comply with GDPR? 'We keep customer emails indefinitely for marketing.'",
    "What is a good name for a coffee shop next to a bookstore?",
    "Customer says the CSV export failed twice since Monday and they need the Q3 invoices by "
    "Friday. Draft a reply that apologises and gives the manual export steps. " * 6,
]
GROUPS = {"nano": "fast", "mini": "mid", "full": "best"}
_CALLBACK_LISTS = ("input_callback", "success_callback", "failure_callback",
                   "_async_success_callback", "_async_failure_callback", "callbacks")  # fmt: skip


class Fixed:
    """The baseline classifier plugin: a fixed tier, at once; `logger` does nothing."""

    def __init__(self) -> None:
        from litellm.integrations.custom_logger import CustomLogger

        class NoOp(CustomLogger):  # type: ignore[misc]
            async def async_log_success_event(
                self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any
            ) -> None:
                return None  # fmt: skip

        self.logger = NoOp()

    async def classify(self, context: Any) -> str:
        return "mini"

    def __deepcopy__(self, memo: dict[int, Any]) -> Fixed:
        return self


class Replay(Fixed):
    """A plugin that returns, at once, the tier tierwise chose for the same text: the baseline
    that sends each request to the same model group as tierwise does."""

    def __init__(self, tiers: dict[str, str]) -> None:
        super().__init__()
        self.tiers = tiers

    async def classify(self, context: Any) -> str:
        return self.tiers[str(context.structured_messages[-1]["content"])]


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_us": round(statistics.median(ordered) * 1e6, 1),
        "p99_us": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1e6, 1),
        "n": len(ordered),
    }


def start_server(bundle: Path) -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "TIERWISE_CACHE_SIZE": "0", "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "serving", "--bundle", str(bundle), "--host", "127.0.0.1",
         "--port", str(port), "--reload-interval", "0", "--threads", "1"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    probe = HttpClient(url, failure=FailurePolicy.fail_closed(), deadline_ms=2000)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            probe.classify("ready?")
            return proc, url
        except Exception:
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError("tierwise serve did not come up")


def context(text: str, feature: str) -> Any:
    from litellm.types.router import RoutingContext

    messages = [{"role": "user", "content": text}]
    return RoutingContext(
        raw_messages=messages,
        structured_messages=messages,
        candidate_models=list(GROUPS.values()),
        metadata={"feature": feature},
    )


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc), to price the server's share."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def bench_plugin(
    plugin: TierwiseClassifier, n: int, server_pid: int | None = None
) -> dict[str, float]:
    contexts = [context(t, f) for t in TEXTS for f in ("support_chat", "doc_summary")]
    for c in contexts:  # warm: word cache, connections
        await plugin.classify(c)
    samples = []
    cpu, server_cpu = time.process_time(), cpu_seconds(server_pid) if server_pid else 0.0
    for i in range(n):
        c = contexts[i % len(contexts)]
        start = time.perf_counter()
        await plugin.classify(c)
        samples.append(time.perf_counter() - start)
    stats = percentiles(samples)
    # CPU per call is steadier than wall time on a shared machine: it is what the gateway pays.
    stats["gateway_cpu_us"] = round((time.process_time() - cpu) / n * 1e6, 1)
    if server_pid:
        stats["server_cpu_us"] = round((cpu_seconds(server_pid) - server_cpu) / n * 1e6, 1)
    return stats


def router_for(plugin: Any) -> Any:
    from litellm import Router

    model_list = [
        {"model_name": g, "litellm_params": {"model": f"openai/{g}", "mock_response": "ok",
                                              "api_key": "x"}}
        for g in GROUPS.values()
    ]  # fmt: skip
    if isinstance(plugin, TierwiseClassifier):
        params = auto_router_params(plugin, GROUPS)
    else:
        params = {"model": "auto_router/complexity_router", "complexity_router_config": {
            "classifier_type": "custom", "classifier_plugin": plugin, "tiers": GROUPS,
            "fallback_tier": "mini"}, "complexity_router_default_model": "mid"}  # fmt: skip
    model_list.append({"model_name": "auto", "litellm_params": params})
    return Router(model_list=model_list, disable_cooldowns=True, num_retries=0)


def timed(plugin: Any, samples: list[float]) -> None:
    """Record how long each `plugin.classify` takes where LiteLLM calls it (caches cold from the
    router's own work, unlike a tight loop)."""
    inner = type(plugin).classify

    async def classify(context: Any) -> Any:
        start = time.perf_counter()
        try:
            return await inner(plugin, context)
        finally:
            samples.append(time.perf_counter() - start)

    plugin.classify = classify


async def bench_routers(variants: dict[str, Any], n: int) -> dict[str, dict[str, float]]:
    import litellm

    routers = {name: router_for(plugin) for name, (plugin, _) in variants.items()}
    samples: dict[str, list[float]] = {name: [] for name in variants}
    for i in range(n + 20):
        for name, router in routers.items():
            # LiteLLM copies loggers from `callbacks` into lists of its own: reset them all.
            for attr in _CALLBACK_LISTS:
                setattr(litellm, attr, [])
            if variants[name][1]:
                litellm.callbacks.append(variants[name][0].logger)
            text = TEXTS[i % len(TEXTS)]
            start = time.perf_counter()
            await router.acompletion(model="auto", messages=[{"role": "user", "content": text}],
                                     metadata={"feature": "support_chat"})  # fmt: skip
            if i >= 20:  # the first calls warm LiteLLM up
                samples[name].append(time.perf_counter() - start)
    return {name: percentiles(s) for name, s in samples.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, default=ROOT / "models" / "default")
    parser.add_argument("--n", type=int, default=3000, help="plugin calls per variant")
    parser.add_argument("--router-n", type=int, default=400, help="router calls per variant")
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    args = parser.parse_args(argv)

    policy = FailurePolicy.fail_open("mini")
    local = TierwiseClassifier(LocalClient.load(args.bundle, failure=policy))
    proc, url = start_server(args.bundle)
    try:
        remote = TierwiseClassifier(HttpClient(url, failure=policy, deadline_ms=1000))
        loop = asyncio.new_event_loop()
        result: dict[str, Any] = {
            "plugin_in_process": loop.run_until_complete(bench_plugin(local, args.n)),
            "plugin_http": loop.run_until_complete(bench_plugin(remote, args.n, proc.pid)),
        }
        fixed = Fixed()
        chosen = {t: local.client.classify(t, feature="support_chat").tier for t in TEXTS}
        replay = Replay(chosen)
        variants = {
            "fixed_tier": (fixed, False),
            "fixed_tier_with_noop_callback": (fixed, True),
            "same_tiers_as_tierwise": (replay, False),
            "same_tiers_as_tierwise_with_noop_callback": (replay, True),
            "tierwise_in_process": (local, False),
            "tierwise_in_process_with_callback": (local, True),
            "tierwise_http": (remote, False),
        }
        in_router: dict[str, list[float]] = {"in_process": [], "http": []}
        timed(local, in_router["in_process"])
        timed(remote, in_router["http"])
        routers = loop.run_until_complete(bench_routers(variants, args.router_n))
        result["plugin_inside_router"] = {k: percentiles(v) for k, v in in_router.items()}
        # Against the plugin that picks the same groups at once; a registered logger makes
        # LiteLLM build its logging payload, so like is compared with like.
        for name, stats in routers.items():
            base = "same_tiers_as_tierwise" + ("_with_noop_callback" if "callback" in name else "")
            stats["added_p50_us"] = round(stats["p50_us"] - routers[base]["p50_us"], 1)
        result["router_acompletion"] = routers
    finally:
        proc.terminate()
        proc.wait(10)
    result["load_average"] = os.getloadavg()
    result["cpus"] = os.cpu_count()
    payload = json.dumps(result, indent=2)
    if args.out:
        args.out.write_text(payload + "\n")
    sys.stdout.write(payload + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
