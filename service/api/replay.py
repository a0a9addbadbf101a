"""ReplayService servicer."""

from __future__ import annotations

from typing import Any

from eventnotify.store import Store
from eventnotify.v1 import replay_pb2, replay_pb2_grpc
from service.api.interceptors import current_caller
from service.core import replay as core


class ReplayServicer(replay_pb2_grpc.ReplayServiceServicer):  # type: ignore[misc]
    """Send deliveries again; redeliveries keep their eventId."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def ResendEvent(self, request: Any, context: Any) -> Any:
        event_id = await core.resend(self._store, current_caller(), request.event_id)
        return replay_pb2.ResendEventResponse(event_id=event_id)

    async def RecoverFailed(self, request: Any, context: Any) -> Any:
        n = await core.recover_failed(
            self._store, current_caller(), request.web_hook_id, request.since
        )
        return replay_pb2.RecoverFailedResponse(scheduled=n)

    async def RewindConsumerGroup(self, request: Any, context: Any) -> Any:
        order = await core.rewind(self._store, current_caller(), request.web_hook_id, request.since)
        return replay_pb2.RewindConsumerGroupResponse(rewind_id=order)
