"""Garbage-collector settings for a dispatcher process.

Every delivery allocates a burst of short-lived containers (a task, futures,
the request's and the log entry's dicts), almost all freed by reference
counting. With CPython's default thresholds (a young collection every 700
net allocations) those bursts trigger thousands of collections a second, and
each older-generation pass walks every long-lived object: the webhook
runtimes, the catalog, the Kafka and HTTP clients. Measured with
``bench.scale`` (300 webhooks, 6,000 deliveries per fan-out), collections
took about a fifth of the dispatcher's CPU; with the settings below, under a
tenth of that. See docs/dispatcher.md, "Figures".
"""

from __future__ import annotations

import gc

# Young collections every 20,000 net allocations instead of 700; older
# generations as rarely relative to it. Garbage cycles still get collected,
# later: at most this many objects' worth of memory is held a little longer.
THRESHOLDS = (20_000, 20, 20)


def tune() -> None:
    """Collect less often; call once per process, before the hot path runs."""
    gc.set_threshold(*THRESHOLDS)


def freeze_startup_objects() -> None:
    """Move everything alive now (modules, clients, the webhooks loaded at
    start-up) out of the collector's view: they live as long as the process,
    so scanning them on every older-generation pass is pure cost. Objects
    created later are collected as usual; a frozen object that later becomes
    part of garbage cycle is never reclaimed, a bounded one-off amount."""
    gc.collect()
    gc.freeze()
