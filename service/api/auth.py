"""Who is calling, and whether they may: API-key resolution with a short
cache, and a per-org token bucket."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

from eventnotify.domain import Caller
from eventnotify.errors import ResourceExhausted, Unauthenticated
from eventnotify.store.api_keys import ApiKeyRepository, hash_secret
from service.core.keys import is_root_secret, root_caller

Clock = Callable[[], float]


class Authenticator:
    """Resolve a bearer secret to a Caller.

    Lookups are cached for ``ttl`` seconds in a bounded LRU keyed by the
    secret's hash: most calls come from a few busy keys and each would
    otherwise cost a MongoDB round trip. Only valid keys are cached, so a
    key minted a moment ago works at once; a revocation made through this
    process drops the key from the cache at once, one made elsewhere is
    seen within ``ttl``.
    """

    def __init__(
        self,
        repo: ApiKeyRepository,
        root_secret: str = "",
        *,
        ttl: float = 5.0,
        max_entries: int = 10_000,
        clock: Clock = time.monotonic,
    ) -> None:
        self._repo = repo
        self._root = root_secret
        self._ttl = ttl
        self._max = max_entries
        self._clock = clock
        self._cache: OrderedDict[str, tuple[Caller, float]] = OrderedDict()

    async def authenticate(self, authorization: str, org_header: str) -> Caller:
        """Caller of ``authorization: Bearer <secret>``; the root key acts for
        the org in ``x-org-id``. UNAUTHENTICATED when missing, unknown or revoked."""
        scheme, _, secret = authorization.strip().partition(" ")
        secret = secret.strip()
        if scheme.lower() != "bearer" or not secret:
            raise Unauthenticated("missing `authorization: Bearer <api key>` metadata")
        if is_root_secret(secret, self._root):
            return root_caller(_org_id(org_header))
        digest = hash_secret(secret)
        now = self._clock()
        hit = self._cache.get(digest)
        if hit is not None and hit[1] > now:
            self._cache.move_to_end(digest)
            return hit[0]
        key = await self._repo.find_by_secret(secret)
        if key is None or key.revoked:
            self._cache.pop(digest, None)
            raise Unauthenticated("unknown or revoked API key")
        caller = Caller(org_id=key.org_id, role=key.role, key_id=key.key_id)
        self._cache[digest] = (caller, now + self._ttl)
        self._cache.move_to_end(digest)
        while len(self._cache) > self._max:
            self._cache.popitem(last=False)
        return caller

    def forget(self, key_id: str) -> None:
        """Drop a (revoked) key from the cache."""
        for digest in [d for d, (c, _) in self._cache.items() if c.key_id == key_id]:
            del self._cache[digest]


def _org_id(header: str) -> int:
    try:
        return max(0, int(header)) if header else 0
    except ValueError:
        raise Unauthenticated("x-org-id must be an integer org id") from None


class RateLimiter:
    """A token bucket per org: ``rate`` calls per second sustained, bursts of
    up to ``burst``. In-process: each service replica limits on its own."""

    def __init__(self, rate: float, burst: int, clock: Clock = time.monotonic) -> None:
        self._rate = rate
        self._burst = float(max(burst, 1))
        self._clock = clock
        self._buckets: dict[int, tuple[float, float]] = {}

    def check(self, org_id: int) -> None:
        """Take one token for ``org_id`` or raise RESOURCE_EXHAUSTED with the wait."""
        if self._rate <= 0:
            return  # rate 0 switches limiting off
        now = self._clock()
        tokens, last = self._buckets.get(org_id, (self._burst, now))
        tokens = min(self._burst, tokens + (now - last) * self._rate)
        if tokens < 1.0:
            self._buckets[org_id] = (tokens, now)
            raise ResourceExhausted(
                f"rate limit of {self._rate:g} calls/s exceeded for org {org_id}",
                retry_after=(1.0 - tokens) / self._rate,
            )
        self._buckets[org_id] = (tokens - 1.0, now)
