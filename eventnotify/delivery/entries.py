"""The log entry a delivery starts from, shared by the dispatcher and SendTestEvent."""

from __future__ import annotations

from eventnotify.delivery.request import delivered_event_id
from eventnotify.delivery.sla import sla_deadline
from eventnotify.domain import DeliveryStatus, LogEntry, Webhook
from eventnotify.envelope import SourceEvent
from eventnotify.timefmt import from_epoch_ms

# failureReason of the deliveries still waiting for a retry when their webhook
# was deleted (DeleteWebhook ends them as FAILED).
WEBHOOK_DELETED = "webhook deleted"


def new_entry(hook: Webhook, event: SourceEvent, position: str, kafka_ts: int) -> LogEntry:
    """A PENDING log entry for ``event`` delivered to ``hook``."""
    ingested = from_epoch_ms(event.created_at_ms or kafka_ts)
    return LogEntry(
        event_id=delivered_event_id(event.event_id, hook.web_hook_id),
        source_event_id=event.event_id,
        org_id=hook.org_id,
        web_hook_id=hook.web_hook_id,
        consumer_group_id=hook.consumer_group_id,
        event_name=event.event_name,
        ref_id=event.ref_id,
        request_id=event.request_id,
        status=DeliveryStatus.PENDING,
        ingested_at=ingested,
        sla_deadline=sla_deadline(ingested, hook.sla_in_seconds),
        kafka_position=position,
    )
