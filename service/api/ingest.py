"""EventIngestService servicer: envelopes in, positions out."""

from __future__ import annotations

from typing import Any

from eventnotify.store import Store
from eventnotify.v1 import ingest_pb2, ingest_pb2_grpc
from service import convert
from service.api.interceptors import current_caller
from service.core import ingest as core
from service.core.ingest import EventSink


def _response(p: core.Published) -> Any:
    return ingest_pb2.PublishEventResponse(
        event_id=p.event_id, topic=p.topic, partition=p.partition, offset=p.offset
    )


class IngestServicer(ingest_pb2_grpc.EventIngestServiceServicer):  # type: ignore[misc]
    """Publish events to Kafka for services that do not speak Kafka."""

    def __init__(self, store: Store, sink: EventSink | None) -> None:
        self._store = store
        self._sink = sink

    async def PublishEvent(self, request: Any, context: Any) -> Any:
        [published] = await core.publish_events(
            self._sink,
            self._store.event_types,
            current_caller(),
            [convert.event_from_proto(request.event, "event")],
            batch=False,
        )
        return _response(published)

    async def PublishEvents(self, request: Any, context: Any) -> Any:
        published = await core.publish_events(
            self._sink,
            self._store.event_types,
            current_caller(),
            [convert.event_from_proto(e, f"events[{i}]") for i, e in enumerate(request.events)],
            batch=True,
        )
        return ingest_pb2.PublishEventsResponse(results=[_response(p) for p in published])
