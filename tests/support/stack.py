"""Settings for tests against the local stack."""

from __future__ import annotations

import itertools
import uuid

from devstack import Stack
from eventnotify.settings import KafkaSettings, MongoSettings, Settings

_counter = itertools.count()


def make_settings(stack: Stack, **env: str) -> Settings:
    """Settings for a test: its own database and topic prefix, fast group joins."""
    n = next(_counter)
    suffix = uuid.uuid4().hex[:8]
    base = Settings.from_env(
        {
            "KAFKA_SESSION_TIMEOUT_MS": "2000",
            "KAFKA_HEARTBEAT_INTERVAL_MS": "500",
            "EVENTNOTIFY_ALLOWED_PRIVATE_HOSTS": "127.0.0.1,localhost",
            "EVENTNOTIFY_SERVICE_METRICS_PORT": "0",
            "EVENTNOTIFY_DISPATCHER_METRICS_PORT": "0",
            "EVENTNOTIFY_GRPC_ADDRESS": "127.0.0.1:0",
            **env,
        }
    )
    mongo = MongoSettings(
        uri=stack.mongodb_uri,
        database=f"t{n}_{suffix}",
        timeout_ms=base.mongo.timeout_ms,
        log_ttl_days=base.mongo.log_ttl_days,
    )
    kafka = KafkaSettings(
        bootstrap_servers=stack.kafka_bootstrap,
        topic_prefix=f"t{n}{suffix}.",
        topic_partitions=base.kafka.topic_partitions,
        session_timeout_ms=base.kafka.session_timeout_ms,
        heartbeat_interval_ms=base.kafka.heartbeat_interval_ms,
    )
    return base.replace(mongo=mongo, kafka=kafka)
