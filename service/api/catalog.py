"""EventCatalogService servicer."""

from __future__ import annotations

from typing import Any

from eventnotify.store import Store
from eventnotify.v1 import catalog_pb2, catalog_pb2_grpc
from service import convert
from service.api.interceptors import current_caller
from service.core import catalog as core


class CatalogServicer(catalog_pb2_grpc.EventCatalogServiceServicer):  # type: ignore[misc]
    """Browse and extend an org's event catalogue."""

    def __init__(self, store: Store) -> None:
        self._repo = store.event_types

    async def ListEventTypes(self, request: Any, context: Any) -> Any:
        events = await core.list_event_types(
            self._repo, current_caller().org_id, active_only=request.active_only
        )
        return catalog_pb2.ListEventTypesResponse(
            event_types=[convert.event_type_to_proto(e, with_schema=False) for e in events]
        )

    async def GetEventType(self, request: Any, context: Any) -> Any:
        et = await core.get_event_type(self._repo, current_caller().org_id, request.event_name)
        return convert.event_type_to_proto(et)

    async def CreateEventType(self, request: Any, context: Any) -> Any:
        et = await core.create_event_type(
            self._repo, current_caller(), convert.event_type_from_proto(request.event_type)
        )
        return convert.event_type_to_proto(et)

    async def UpdateEventType(self, request: Any, context: Any) -> Any:
        changes = convert.event_type_changes(request.event_type, request.update_mask.paths)
        et = await core.update_event_type(
            self._repo, current_caller(), request.event_type.event_name, changes
        )
        return convert.event_type_to_proto(et)
