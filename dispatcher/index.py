"""Which webhooks want which events: (org, eventName) -> webhook runtimes.

Rebuilt from the runtimes whenever the set of webhooks or their subscriptions
change (rare), so matching a record is one dictionary read.
"""

from __future__ import annotations

from collections.abc import Iterable

from dispatcher.runtime import WebhookRuntime


class WebhookIndex:
    """Subscribers by (org, event name) and by event name."""

    def __init__(self) -> None:
        self._by_key: dict[tuple[int, str], list[WebhookRuntime]] = {}
        self._by_name: dict[str, list[WebhookRuntime]] = {}

    def rebuild(self, runtimes: Iterable[WebhookRuntime]) -> None:
        by_key: dict[tuple[int, str], list[WebhookRuntime]] = {}
        by_name: dict[str, list[WebhookRuntime]] = {}
        for rt in runtimes:
            for name in set(rt.hook.event_names):
                by_key.setdefault((rt.hook.org_id, name), []).append(rt)
                by_name.setdefault(name, []).append(rt)
        self._by_key, self._by_name = by_key, by_name

    def subscribers(self, org_id: int, name: str) -> list[WebhookRuntime]:
        return self._by_key.get((org_id, name), [])

    def of_name(self, name: str) -> list[WebhookRuntime]:
        """Every org's subscribers of ``name`` (for records that name no org)."""
        return self._by_name.get(name, [])

    def names(self) -> set[str]:
        return set(self._by_name)
