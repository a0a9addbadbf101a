"""Per-org token bucket: RESOURCE_EXHAUSTED with a RetryInfo."""

from __future__ import annotations

import asyncio

import grpc
import pytest

from eventnotify.domain import Role
from eventnotify.errors import ResourceExhausted
from eventnotify.v1 import webhook_pb2
from service.api.auth import RateLimiter
from tests.service.conftest import ApiFactory, expect_error

LIST = webhook_pb2.ListWebhooksRequest()


async def test_an_org_over_its_limit_is_told_when_to_retry(make_api: ApiFactory) -> None:
    api = await make_api(EVENTNOTIFY_RATE_LIMIT_RPS="0.5", EVENTNOTIFY_RATE_LIMIT_BURST="3")
    org1 = await api.key(1, Role.READ)
    org2 = await api.key(2, Role.READ)
    for _ in range(3):
        await api.webhooks.ListWebhooks(LIST, metadata=org1)
    d = await expect_error(
        api.webhooks.ListWebhooks(LIST, metadata=org1), grpc.StatusCode.RESOURCE_EXHAUSTED
    )
    assert d.info is not None and d.info.reason == "RATE_LIMITED"
    assert d.retry is not None
    delay = d.retry.retry_delay.ToMilliseconds()
    assert 0 < delay <= 2000
    await api.webhooks.ListWebhooks(LIST, metadata=org2)  # other orgs are unaffected


def test_bucket_refills_at_the_configured_rate() -> None:
    now = [0.0]
    limiter = RateLimiter(rate=10.0, burst=2, clock=lambda: now[0])
    limiter.check(1)
    limiter.check(1)
    with pytest.raises(ResourceExhausted) as caught:
        limiter.check(1)
    assert caught.value.retry_after == pytest.approx(0.1)
    now[0] += 0.1
    limiter.check(1)
    now[0] += 10
    limiter.check(1)
    limiter.check(1)  # refilled to the burst, not beyond
    with pytest.raises(ResourceExhausted):
        limiter.check(1)


def test_rate_zero_turns_limiting_off() -> None:
    # The clock never moves, so a bucket that limited at all would refuse the
    # second call of a burst-1 org: every one of these must pass.
    limiter = RateLimiter(rate=0, burst=1, clock=lambda: 0.0)
    for _ in range(100):
        limiter.check(1)


async def test_rate_zero_serves_a_burst_far_beyond_the_bucket(make_api: ApiFactory) -> None:
    api = await make_api(EVENTNOTIFY_RATE_LIMIT_RPS="0", EVENTNOTIFY_RATE_LIMIT_BURST="1")
    org1 = await api.key(1, Role.READ)
    # 30 calls at once: a burst-1 bucket refills far too slowly to pass them all.
    replies = await asyncio.gather(
        *(api.webhooks.ListWebhooks(LIST, metadata=org1) for _ in range(30)),
        return_exceptions=True,
    )
    failed = [r for r in replies if isinstance(r, BaseException)]
    assert failed == []
