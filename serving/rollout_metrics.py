"""Scrape-time series of the progressive rollout (serving/experiment.py) and of the escalated
conversations (serving/conversations.py); bound by `Metrics.bind_rollout`."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from serving.conversations import ConversationFloors
    from serving.experiment import Experiment


class RolloutCollector(Collector):
    """The learned policy's share per feature (`*`: features without their own), the shadow
    sample rate and whether escalations stick, as the answering worker applies them."""

    def __init__(self, experiment: Callable[[], Experiment]) -> None:
        self.experiment = experiment

    def collect(self) -> Iterator[GaugeMetricFamily]:
        exp = self.experiment()
        shares = GaugeMetricFamily(
            "tierwise_rollout_learned_share",
            "share of units the learned policy serves, per feature ('*': the default); 1 in "
            "learned mode, 0 in rules mode",
            labels=["feature"],
        )
        shares.add_metric(["*"], exp.share_for(None))
        if exp.mode == "ab":
            for feature, share in exp.feature_shares.items():
                if feature != "*":
                    shares.add_metric([feature], share)
        yield shares
        yield GaugeMetricFamily(
            "tierwise_rollout_shadow_rate",
            "share of units whose other policy is decided and logged as the shadow",
            exp.shadow_rate,
        )
        yield GaugeMetricFamily(
            "tierwise_rollout_sticky_escalation",
            "1 while escalated conversations keep their tier for the next turns",
            float(exp.sticky_escalation),
        )


class FloorCollector(Collector):
    def __init__(self, floors: ConversationFloors) -> None:
        self.floors = floors

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        yield GaugeMetricFamily(
            "tierwise_conversation_floors",
            "escalated conversations whose next turns start at their escalated tier",
            len(self.floors),
        )
        yield CounterMetricFamily(
            "tierwise_conversation_floors_raised",
            "escalations (via /feedback) that set or raised a conversation's floor",
            self.floors.raised,
        )
        yield CounterMetricFamily(
            "tierwise_conversation_floor_errors",
            "failed reads or writes of the floors the workers share (conversation-floors.sqlite)",
            self.floors.sync_errors,
        )
