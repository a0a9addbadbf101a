"""EventLogService servicer."""

from __future__ import annotations

from typing import Any

from eventnotify.domain import LogEntry
from eventnotify.store import Store
from eventnotify.v1 import log_pb2, log_pb2_grpc
from service import convert
from service.api.interceptors import current_caller
from service.core import logs as core


def _entries(entries: list[LogEntry]) -> Any:
    return log_pb2.ListEventLogsResponse(entries=[convert.log_entry_to_proto(e) for e in entries])


class LogServicer(log_pb2_grpc.EventLogServiceServicer):  # type: ignore[misc]
    """Delivery-log lookups and consumer-group metrics."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def GetEventLog(self, request: Any, context: Any) -> Any:
        entry = await core.get_event_log(self._store.logs, current_caller(), request.event_id)
        return convert.log_entry_to_proto(entry)

    async def ListEventLogsBySourceEventId(self, request: Any, context: Any) -> Any:
        entries = await core.list_by_source_event_id(
            self._store.logs, current_caller(), request.source_event_id
        )
        return _entries(entries)

    async def ListEventLogsByRequestId(self, request: Any, context: Any) -> Any:
        entries = await core.list_by_request_id(
            self._store.logs, current_caller(), request.request_id
        )
        return log_pb2.ListEventLogsResponse(
            entries=[convert.log_entry_to_proto(e) for e in entries]
        )

    async def ListEventLogsByRefId(self, request: Any, context: Any) -> Any:
        entries = await core.list_by_ref_id(self._store.logs, current_caller(), request.ref_id)
        return log_pb2.ListEventLogsResponse(
            entries=[convert.log_entry_to_proto(e) for e in entries]
        )

    async def ListConsumerGroupLogs(self, request: Any, context: Any) -> Any:
        query = core.LogQuery(
            consumer_group_id=request.consumer_group_id,
            event_name=request.event_name,
            status=convert.status_name(request.status),
            request_id=request.request_id,
            ref_id=request.ref_id,
            start_time=request.start_time,
            end_time=request.end_time,
            sort=convert.sort_name(request.sort),
            page_size=request.page_size,
            page_token=request.page_token,
        )
        page = await core.list_group_logs(
            self._store.webhooks, self._store.logs, current_caller(), query
        )
        return log_pb2.ListConsumerGroupLogsResponse(
            entries=[convert.log_entry_to_proto(e) for e in page.entries],
            next_page_token=page.next_page_token,
        )

    async def GetConsumerGroupMetrics(self, request: Any, context: Any) -> Any:
        report = await core.group_metrics(
            self._store.webhooks,
            self._store.logs,
            current_caller(),
            request.consumer_group_id,
            request.window_seconds,
        )
        return convert.metrics_to_proto(
            report.consumer_group_id, report.figures, report.start, report.end
        )
