"""The offloader: long work in bounded threads, a clear 503 when the pool is full or time is up."""

from __future__ import annotations

import asyncio
import threading

import pytest

from serving.errors import ApiError
from serving.offload import Offloader


def _offloader(**overrides: float) -> Offloader:
    args = {"workers": 1, "max_pending": 4, "budget_s": 5.0, "inline_max_chars": 100}
    args.update(overrides)
    return Offloader(**args)  # type: ignore[arg-type]


def test_short_requests_stay_inline_and_long_ones_go_to_threads() -> None:
    offloader = _offloader()
    assert offloader.inline(100) and not offloader.inline(101)
    caller = threading.get_ident()
    worker = asyncio.run(offloader.run(threading.get_ident))
    assert worker != caller
    offloader.close()


def test_work_over_the_budget_is_a_503_with_a_reason() -> None:
    release = threading.Event()
    offloader = _offloader(budget_s=0.05)
    with pytest.raises(ApiError) as caught:
        asyncio.run(offloader.run(release.wait, 30))
    release.set()
    assert (caught.value.status, caught.value.code) == (503, "over_budget")
    assert "TIERWISE_REQUEST_BUDGET_S" in caught.value.detail
    assert caught.value.headers == {"Retry-After": "1"}
    assert offloader.over_budget == 1 and offloader.pending == 0
    offloader.close()


def test_a_full_queue_is_a_503_and_queued_work_is_cancelled_with_its_request() -> None:
    release = threading.Event()
    ran: list[int] = []
    offloader = _offloader(max_pending=2, budget_s=0.3)

    def job(n: int) -> int:
        ran.append(n)
        release.wait(30)
        return n

    async def three_at_once() -> list[object]:
        return await asyncio.gather(
            offloader.run(job, 1),
            offloader.run(job, 2),
            offloader.run(job, 3),
            return_exceptions=True,
        )

    outcomes = asyncio.run(three_at_once())
    release.set()
    codes = [o.code if isinstance(o, ApiError) else o for o in outcomes]
    # One worker: job 1 runs past the budget, job 2 waits past it (and is cancelled), job 3
    # finds two requests pending and is refused at once.
    assert codes == ["over_budget", "over_budget", "overloaded"]
    assert ran == [1]
    assert offloader.overloaded == 1
    offloader.close()
