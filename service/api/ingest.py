"""EventIngestService servicer: envelopes in, positions out."""

from __future__ import annotations

from typing import Any

from eventnotify.v1 import ingest_pb2, ingest_pb2_grpc
from google.protobuf import json_format

from service.api.interceptors import current_caller
from service.core import ingest as core
from service.core.ingest import EventSink
from service.envelope import SourceEvent
from service.store import Store


def event_from_proto(msg: Any) -> SourceEvent:
    """An ``EventEnvelope`` message as a SourceEvent, empty fields kept empty
    (the core fills or rejects them). ``data`` keeps Struct's numbers as
    floats: schema checks accept integral floats as integers, and the record
    is written as protobuf, where every number is a double anyway."""
    data = json_format.MessageToDict(msg.data) if msg.HasField("data") else {}
    return SourceEvent(
        event_id=msg.event_id,
        event_name=msg.event_name,
        org_id=msg.org_id,
        ref_id=msg.ref_id,
        request_id=msg.request_id,
        created_at_ms=msg.created_at,
        data=data,
        loyalty_event_id=msg.loyalty_event_id,
        headers=dict(msg.headers),
    )


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
            [event_from_proto(request.event)],
            batch=False,
        )
        return _response(published)

    async def PublishEvents(self, request: Any, context: Any) -> Any:
        published = await core.publish_events(
            self._sink,
            self._store.event_types,
            current_caller(),
            [event_from_proto(e) for e in request.events],
            batch=True,
        )
        return ingest_pb2.PublishEventsResponse(results=[_response(p) for p in published])
