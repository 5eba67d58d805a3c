"""A recording ``Notifier`` for service tests: every delivery is kept, refs are counted, and
failures (rate limits, outages, permanent refusals) can be queued up front."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

from bot.services.delivery import Delivery
from bot.storage.models import DeliveryAction, Platform


class RecordingNotifier:
    def __init__(self, platform: Platform = Platform.SLACK, failures: Iterable[Exception] = ()):
        self.platform = platform
        self.deliveries: list[Delivery] = []
        self.failures: deque[Exception] = deque(failures)
        #: Failures for the next deliveries of one topic only (say, the reveal).
        self.topic_failures: dict[str, deque[Exception]] = {}
        self.attempts = 0
        self.failed_topics: list[str] = []
        self._next_ref = 0

    async def _send(self, delivery: Delivery) -> str:
        self.attempts += 1
        if self.failures:
            raise self.failures.popleft()
        pending = self.topic_failures.get(delivery.topic)
        if pending:
            self.failed_topics.append(delivery.topic)
            raise pending.popleft()
        self.deliveries.append(delivery)
        self._next_ref += 1
        return f"{self.platform.value}-msg-{self._next_ref}"

    async def deliver(self, delivery: Delivery) -> str | None:
        return await self._send(delivery)

    async def edit(self, delivery: Delivery) -> str | None:
        await self._send(delivery)
        return delivery.parent_ref

    def topics(self) -> list[str]:
        return [delivery.topic for delivery in self.deliveries]

    def of(self, topic: str) -> list[Delivery]:
        return [delivery for delivery in self.deliveries if delivery.topic == topic]

    def actions(self) -> list[tuple[str, DeliveryAction, str | None]]:
        return [(d.topic, d.action, d.parent_ref) for d in self.deliveries]
