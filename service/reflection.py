"""gRPC server reflection under both of its names.

Current grpcurl, Postman and grpcui ask ``grpc.reflection.v1`` first; older
clients ask ``grpc.reflection.v1alpha``. grpcio-reflection (1.85) ships only
the v1alpha servicer, but the two protocols are the same messages with the same
field numbers under two package names, so the v1 service is the v1alpha
servicer reached through a second method path.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import grpc  # type: ignore[import-untyped]
from grpc_reflection.v1alpha import reflection, reflection_pb2

V1_SERVICE = "grpc.reflection.v1.ServerReflection"
V1ALPHA_SERVICE: str = reflection.SERVICE_NAME


def enable_reflection(service_names: Sequence[str], server: Any) -> None:
    """Serve reflection of ``service_names`` (and itself) under v1 and v1alpha."""
    names = [*service_names, V1_SERVICE, V1ALPHA_SERVICE]
    servicer = reflection.aio.ReflectionServicer(names)  # type: ignore[attr-defined]
    handler = grpc.stream_stream_rpc_method_handler(
        servicer.ServerReflectionInfo,
        request_deserializer=reflection_pb2.ServerReflectionRequest.FromString,
        response_serializer=reflection_pb2.ServerReflectionResponse.SerializeToString,
    )
    for service in (V1_SERVICE, V1ALPHA_SERVICE):
        server.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler(service, {"ServerReflectionInfo": handler}),)
        )
