"""API keys: minting, listing, revoking, and resolving a secret to a Caller.

A secret reads ``en_<keyId>_<random>``: the public key id makes a leaked
secret easy to trace to its record, and the 256-bit random part is what
authenticates. Only a SHA-256 of the whole secret is stored.
"""

from __future__ import annotations

import hmac
import secrets

from eventnotify.domain import ApiKey, Caller, Role
from eventnotify.errors import NotFound, PermissionDenied
from eventnotify.store.api_keys import ApiKeyRepository, hash_secret
from eventnotify.timefmt import utcnow
from service.core.validation import Violation, raise_if_any

SECRET_PREFIX = "en_"
ROOT_KEY_ID = "root"
MAX_DESCRIPTION = 256


def new_key_secret() -> tuple[str, str]:
    """A fresh (key id, secret) pair."""
    key_id = secrets.token_hex(6)
    return key_id, f"{SECRET_PREFIX}{key_id}_{secrets.token_urlsafe(32)}"


async def mint_key(
    repo: ApiKeyRepository, org_id: int, role: Role, description: str = ""
) -> tuple[ApiKey, str]:
    """Store a new key for ``org_id``; returns its record and its secret (the
    only time the secret is seen)."""
    key_id, secret = new_key_secret()
    key = ApiKey(
        key_id=key_id,
        org_id=org_id,
        role=role,
        secret_hash=hash_secret(secret),
        description=description,
        created_on=utcnow(),
    )
    await repo.insert(key)
    return key, secret


def is_root_secret(secret: str, root_secret: str) -> bool:
    """Whether ``secret`` is the deployment's root key (constant-time compare)."""
    return bool(root_secret) and hmac.compare_digest(secret.encode(), root_secret.encode())


def root_caller(org_id: int) -> Caller:
    """The root key acting for ``org_id`` (0 when no org was named)."""
    return Caller(org_id=org_id, role=Role.ADMIN, key_id=ROOT_KEY_ID, is_root=True)


async def create_key(
    repo: ApiKeyRepository, caller: Caller, org_id: int, role: int, description: str
) -> tuple[ApiKey, str]:
    """Mint a key. An admin key mints for its own org only; the root key for
    the org named in the request (or in its ``x-org-id``)."""
    target = org_id or caller.org_id
    v: list[Violation] = []
    if role not in {r.value for r in Role}:
        v.append(Violation("role", "READ, WRITE or ADMIN", "ROLE_REQUIRED"))
    if target <= 0:
        v.append(Violation("org_id", "a positive org id is required", "ORG_ID_REQUIRED"))
    if len(description) > MAX_DESCRIPTION:
        v.append(Violation("description", f"at most {MAX_DESCRIPTION} characters", "TOO_LONG"))
    raise_if_any(v, "invalid API key request")
    if target != caller.org_id and not caller.is_root:
        raise PermissionDenied("an admin key mints keys for its own org only")
    return await mint_key(repo, target, Role(role), description)


async def list_keys(repo: ApiKeyRepository, caller: Caller) -> list[ApiKey]:
    """The caller's org's keys, oldest first."""
    return await repo.list_for_org(caller.org_id)


async def revoke_key(repo: ApiKeyRepository, caller: Caller, key_id: str) -> ApiKey:
    """Revoke one of the org's keys; NOT_FOUND for another org's."""
    key = await repo.revoke(caller.org_id, key_id)
    if key is None:
        raise NotFound("keyId is invalid", reason="API_KEY_NOT_FOUND")
    return key
