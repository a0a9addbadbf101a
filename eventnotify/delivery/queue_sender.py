"""Delivery to a Kafka topic, for QUEUE webhooks (the original's QUEUE_INT)."""

from __future__ import annotations

import time

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from eventnotify.delivery.http_sender import AttemptResult
from eventnotify.delivery.request import OutboundRequest


class QueueSender:
    """Produces the delivered envelope to the topic a QUEUE webhook names."""

    def __init__(self, producer: AIOKafkaProducer) -> None:
        self._producer = producer

    async def send(self, req: OutboundRequest, key: str) -> AttemptResult:
        """One attempt: the topic is the webhook's URL; headers carry the signature."""
        started = time.perf_counter()
        headers = [(k, v.encode()) for k, v in req.headers.items()]
        try:
            await self._producer.send_and_wait(
                req.url, req.body, key=key.encode() or None, headers=headers
            )
        except KafkaError as exc:
            ms = int((time.perf_counter() - started) * 1000)
            return AttemptResult(0, ms, error=f"kafka: {exc}", retriable_error=exc.retriable)
        return AttemptResult(0, int((time.perf_counter() - started) * 1000))
