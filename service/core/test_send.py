"""SendTestEvent: deliver a sample event to a webhook now and report what happened.

The sample is generated from the event's schema in the org's catalogue, so it
is what a real event of that type looks like. It goes through the dispatcher's
own request building and signing (``eventnotify.delivery.request``) and its HTTP sender
(same address policy, timeouts and response cap), so a passing test send means
real deliveries will pass too. The outcome is recorded as a delivery log entry
marked ``test`` in the webhook's log. A receiver that fails is a result, not an
error: the call itself succeeds and says what went wrong.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

from eventnotify.catalog.sample import sample_data
from eventnotify.delivery import outcome
from eventnotify.delivery.entries import new_entry
from eventnotify.delivery.http_sender import AttemptResult, HttpSender
from eventnotify.delivery.queue_sender import QueueSender
from eventnotify.delivery.request import OutboundRequest, build_request
from eventnotify.domain import (
    Caller,
    DeliveryAttempt,
    EventType,
    LogEntry,
    Webhook,
    WebhookType,
)
from eventnotify.envelope import SourceEvent
from eventnotify.errors import FailedPrecondition, NotFound
from eventnotify.producer import KafkaSink
from eventnotify.signing import HEADER_ID, HEADER_SIGNATURE, HEADER_TIMESTAMP
from eventnotify.store import Store
from eventnotify.timefmt import to_epoch_ms, utcnow
from service.core.catalog import event_catalog, get_event_type
from service.core.names import unknown_event
from service.core.validation import Violation, raise_if_any
from service.core.webhooks import get_webhook

EXCERPT_BYTES = 1024
TEST_REF_PREFIX = "test-"


@dataclass(frozen=True)
class TestSendResult:
    """What the receiver did with the test event."""

    __test__ = False  # not a pytest test class, despite the name

    event_id: str
    http_status: int
    latency_ms: int
    response_excerpt: str
    signature_sent: bool
    error: str
    success: bool


@dataclass
class TestSenders:
    """The channels a test send may use: HTTP always, Kafka when the server has it."""

    __test__ = False

    http: HttpSender
    kafka: KafkaSink | None = None

    async def to_queue(self, req: OutboundRequest, key: str) -> AttemptResult:
        """Produce to a QUEUE webhook's topic, as the dispatcher's QueueSender does."""
        if self.kafka is None or not self.kafka.connected:
            return AttemptResult(0, 0, error="Kafka is not reachable from this server")
        return await QueueSender(self.kafka.producer).send(req, key)


async def _event_type(store: Store, caller: Caller, hook: Webhook, name: str) -> EventType:
    chosen = name or (hook.event_names[0] if hook.event_names else "")
    try:
        return await get_event_type(store.event_types, caller.org_id, chosen)
    except NotFound:
        known = await event_catalog(store.event_types, caller.org_id)
        raise_if_any(
            [Violation("event_name", unknown_event(chosen, known), "EVENT_NAME_UNKNOWN")],
            "invalid test event",
        )
        raise  # unreachable: raise_if_any raised


def sample_event(hook: Webhook, et: EventType, now_ms: int) -> SourceEvent:
    """A schema-valid event of type ``et`` for ``hook``'s org."""
    source_id = str(uuid.uuid4())
    return SourceEvent(
        event_id=source_id,
        event_name=et.name,
        org_id=hook.org_id,
        # A refId no real entity has, so a test never shares an ordering key
        # (or a refId log lookup) with real events.
        ref_id=f"{hook.org_id}_{TEST_REF_PREFIX}{source_id}",
        request_id=f"{TEST_REF_PREFIX}{source_id}",
        created_at_ms=now_ms,
        data=sample_data(et.schema or {}),
    )


def excerpt(body: str, limit: int = EXCERPT_BYTES) -> str:
    """At most ``limit`` bytes of ``body`` in UTF-8, never splitting a character."""
    return body.encode()[:limit].decode("utf-8", "ignore")


async def send_test_event(
    store: Store, senders: TestSenders, caller: Caller, web_hook_id: str, event_name: str
) -> TestSendResult:
    """Deliver a sample event to the webhook, log it, and report the outcome."""
    hook = await get_webhook(store.webhooks, caller, web_hook_id)
    et = await _event_type(store, caller, hook, event_name)
    now = utcnow()
    secrets = hook.signing_secrets(now)
    if not secrets:
        raise FailedPrecondition(
            "the webhook has no active signing secret: rotate its secret", reason="NO_SECRET"
        )
    event = sample_event(hook, et, to_epoch_ms(now))
    entry = new_entry(hook, event, position="", kafka_ts=event.created_at_ms)
    entry.test = True
    req = build_request(hook, event, entry.event_id, secrets, int(time.time()))
    if hook.type is WebhookType.QUEUE:
        result = await senders.to_queue(req, event.ref_id)
        success = not result.error
    else:
        result = await senders.http.send(req)
        success = not result.error and 200 <= result.http_status < 300
    await store.logs.write_many([_finished(entry, event, result, success)])
    return TestSendResult(
        event_id=entry.event_id,
        http_status=result.http_status,
        latency_ms=result.duration_ms,
        response_excerpt=excerpt(result.body),
        signature_sent=all(
            h in req.headers for h in (HEADER_ID, HEADER_TIMESTAMP, HEADER_SIGNATURE)
        ),
        error=result.error,
        success=success,
    )


def _finished(entry: LogEntry, event: SourceEvent, result: AttemptResult, ok: bool) -> LogEntry:
    now = utcnow()
    attempted_at = entry.ingested_at
    entry.started_at = attempted_at
    outcome.apply(entry, outcome.test_send(ok, result.error or f"HTTP {result.http_status}", now))
    entry.attempts = [
        DeliveryAttempt(
            time=attempted_at,
            http_status=result.http_status,
            duration_ms=result.duration_ms,
            error=result.error,
            response_body=result.body,
            response_truncated=result.truncated,
        )
    ]
    entry.last_http_status = result.http_status
    entry.last_duration_ms = result.duration_ms
    if not ok:
        # Kept like any failed delivery's event, so a replay of the webhook's
        # failures never meets an entry it cannot resend.
        entry.source_event = event.to_doc()
    return entry
