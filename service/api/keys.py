"""ApiKeyService servicer (ADMIN keys and the root key)."""

from __future__ import annotations

from typing import Any

from eventnotify.store import Store
from eventnotify.v1 import admin_pb2, admin_pb2_grpc
from service import convert
from service.api.auth import Authenticator
from service.api.interceptors import current_caller
from service.core import keys as core


class ApiKeyServicer(admin_pb2_grpc.ApiKeyServiceServicer):  # type: ignore[misc]
    """Mint, list and revoke an org's API keys."""

    def __init__(self, store: Store, authenticator: Authenticator) -> None:
        self._repo = store.api_keys
        self._auth = authenticator

    async def CreateApiKey(self, request: Any, context: Any) -> Any:
        key, secret = await core.create_key(
            self._repo, current_caller(), request.org_id, request.role, request.description
        )
        return admin_pb2.CreateApiKeyResponse(api_key=convert.api_key_to_proto(key), secret=secret)

    async def ListApiKeys(self, request: Any, context: Any) -> Any:
        keys = await core.list_keys(self._repo, current_caller())
        return admin_pb2.ListApiKeysResponse(api_keys=[convert.api_key_to_proto(k) for k in keys])

    async def RevokeApiKey(self, request: Any, context: Any) -> Any:
        key = await core.revoke_key(self._repo, current_caller(), request.key_id)
        # Revocation is immediate in this process (other replicas: within the cache TTL).
        self._auth.forget(key.key_id)
        return convert.api_key_to_proto(key)
