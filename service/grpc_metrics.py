"""Requests and latency of the gRPC API, recorded by the interceptor."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

# gRPC calls are mostly one MongoDB round trip; a slow one is seconds.
GRPC_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class GrpcMetrics:
    """Requests and latency of the gRPC API, recorded by the interceptor."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "eventnotify_grpc_requests",
            "gRPC calls handled, by full method name and status code.",
            ("method", "code"),
            registry=registry,
        )
        self.duration = Histogram(
            "eventnotify_grpc_request_duration_seconds",
            "Time to handle a gRPC call (auth and rate limit included), by method and code.",
            ("method", "code"),
            buckets=GRPC_BUCKETS,
            registry=registry,
        )

    def observe(self, method: str, code: str, seconds: float) -> None:
        """Count one finished call."""
        self.requests.labels(method, code).inc()
        self.duration.labels(method, code).observe(seconds)
