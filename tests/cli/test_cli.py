"""The installed ``eventnotify`` command against a real server: the whole
webhook lifecycle (with flags, and with only environment variables), error
reporting and exit codes, and the credentials file ``make run`` writes."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from devstack import free_port
from eventnotify.domain import DeliveryAttempt, DeliveryStatus, LogEntry
from eventnotify.timefmt import utcnow
from tests.cli.conftest import Cli, Result, table_has, write_credentials
from tests.support.receiver import Receiver, Reply
from tests.support.records import read_topic

SECRET_WARNING = "shown only this once"
TRANSACTION = {"transactionId": 981, "customerIdentifiers": {"customerId": 42}}


def failed_entry(hook: dict[str, Any]) -> LogEntry:
    """A FAILED delivery of ``hook`` as the dispatcher would record it."""
    at = utcnow() - timedelta(minutes=5)
    return LogEntry(
        event_id=f"ev-cli-{uuid.uuid4().hex[:8]}",
        source_event_id="src-cli",
        org_id=1,
        web_hook_id=hook["webHookId"],
        consumer_group_id=hook["consumerGroupId"],
        event_name="customerAdded",
        ref_id="1_777",
        request_id="req-cli",
        status=DeliveryStatus.FAILED,
        ingested_at=at,
        started_at=at,
        ended_at=at + timedelta(seconds=1),
        last_http_status=503,
        last_duration_ms=42,
        attempts=[DeliveryAttempt(at, 503, 42, response_body="unavailable")],
        failure_reason="HTTP 503 after retries",
        source_event={"eventId": "src-cli", "eventName": "customerAdded", "data": {}},
    )


@pytest.mark.parametrize("mode", ["flags", "env"])
async def test_webhook_lifecycle(cli: Cli, tmp_path: Path, mode: str) -> None:
    if mode == "flags":
        run = cli.ok
    else:
        # The key comes from the offline bootstrap, then only env vars are used.
        boot = await cli.raw(
            "--json", "keys", "bootstrap", "--org", "1", "--role", "admin", env=cli.mongo_env()
        )
        assert boot.code == 0, boot.err
        assert SECRET_WARNING in boot.err
        env = {"EVENTNOTIFY_ADDRESS": cli.address, "EVENTNOTIFY_API_KEY": boot.json()["secret"]}

        async def run(*args: str) -> Result:
            result = await cli.raw(*args, env=env)
            assert result.code == 0, (args, result.out, result.err)
            return result

    # create: the signing secret is printed once, with a warning on stderr
    created = await run(
        "--json", "webhooks", "create", "--name", "hook-a", "--url", "https://example.com/a",
        "--event", "transactionAdded", "--event", "pointsRedeemed", "--max-connections", "5",
        "--sla", "30", "--header", "X-Team=loyalty", "--method", "put",
    )  # fmt: skip
    body = created.json()
    assert body["signingSecret"].startswith("whsec_")
    assert SECRET_WARNING in created.err
    hook = body["webhook"]
    hook_id, group = hook["webHookId"], hook["consumerGroupId"]
    assert hook["methodType"] == "PUT" and hook["webHookHeaders"] == {"X-Team": "loyalty"}

    got = (await run("webhooks", "get", hook_id)).fields()
    assert got["webHookId"] == hook_id and got["name"] == "hook-a"
    assert got["eventNames"] == "transactionAdded, pointsRedeemed"
    assert got["maxAllowedConnections"] == "5" and got["active"] == "yes"

    # list: a table, JSON, and pages
    await run("webhooks", "create", "--name", "hook-b", "--url", "https://example.com/b",
              "--event", "customerAdded", "--max-connections", "1")  # fmt: skip
    table = await run("webhooks", "list")
    assert table.out.splitlines()[0].split() == ["ID", "NAME", "ACTIVE", "TYPE", "EVENTS", "URL"]
    assert table_has(table, hook_id, "hook-a", "yes", "HTTP", "https://example.com/a")
    listed = await run("--json", "webhooks", "list")
    assert [h["name"] for h in listed.json()["webhooks"]] == ["hook-a", "hook-b"]
    first = await run("webhooks", "list", "--page-size", "1")
    assert len(first.rows()) == 1 and "--page-token" in first.err
    every = await run("--json", "webhooks", "list", "--page-size", "1", "--all")
    assert len(every.json()["webhooks"]) == 2 and every.json()["nextPageToken"] == ""

    # update: only the given field changes (update_mask)
    await run("webhooks", "update", hook_id, "--event", "customerAdded")
    after = (await run("--json", "webhooks", "get", hook_id)).json()
    assert after["eventNames"] == ["customerAdded"]
    assert after["webHookUrl"] == "https://example.com/a" and after["slaInSeconds"] == 30
    assert after["webHookHeaders"] == {"X-Team": "loyalty"}

    rotated = await run("webhooks", "rotate-secret", hook_id)
    new_secret = rotated.fields()["signingSecret"]
    assert new_secret.startswith("whsec_") and new_secret != body["signingSecret"]
    assert rotated.fields()["previousSecretExpiresAt"].endswith("+0000")
    assert SECRET_WARNING in rotated.err

    await check_catalogue(run, tmp_path)

    # logs, metrics and replay on a delivery the dispatcher would have written
    entry = failed_entry(after)
    await cli.api.store.logs.upsert_many([entry])
    one = (await run("logs", "get", entry.event_id)).out
    assert "FAILED" in one and "HTTP 503 after retries" in one and "unavailable" in one
    by_ref = (await run("--json", "logs", "by-ref", "1_777")).json()
    assert [e["eventId"] for e in by_ref["entries"]] == [entry.event_id]
    assert table_has(await run("logs", "by-request", "req-cli"), entry.event_id, "FAILED")
    grp = await run("logs", "group", group, "--status", "failed", "--since", "1h")
    assert table_has(grp, entry.event_id, "FAILED", "customerAdded", "503", "42")
    none = await run("logs", "group", group, "--status", "delivered")
    assert none.out == "" and "no deliveries" in none.err
    metrics = (await run("--json", "metrics", group, "--window", "1h")).json()
    assert metrics["failedEvents"] == "1" and metrics["totalEvents"] == "1"
    assert (await run("metrics", group)).fields()["failedEvents"] == "1"

    resent = await run("replay", "resend", entry.event_id)
    assert f"delivery {entry.event_id} scheduled" in resent.out
    assert await cli.api.store.parked.count_for(hook_id) == 1
    recovered = await run(
        "replay", "recover", hook_id, "--since", "1h", "--watch", "0.3", "--interval", "0.1"
    )
    assert "1 delivery scheduled for redelivery" in recovered.out
    assert "scheduling... 1 delivery scheduled" in recovered.err
    assert "progress: 1 in window: 0 delivered, 1 failed" in recovered.err
    assert "stopped watching" in recovered.err
    rewound = await run("--json", "replay", "rewind", hook_id, "--since", "1h")
    order = rewound.json()["rewindId"]
    assert order and await cli.api.store.orders.applied_by(order) == []
    assert f"eventnotify logs group {group}" in rewound.err

    # delete deactivates
    await run("webhooks", "delete", hook_id)
    assert (await run("--json", "webhooks", "get", hook_id)).json()["active"] is False


async def check_catalogue(run: Any, tmp_path: Path) -> None:
    """events list / schema / create / deactivate / activate."""
    listed = await run("events", "list")
    assert table_has(listed, "transactionAdded", "yes", "standard")
    schema = json.loads((await run("events", "schema", "transactionAdded")).out)
    assert schema["type"] == "object" and "transactionId" in schema["properties"]

    schema_file = tmp_path / "order.json"
    schema_file.write_text(json.dumps({"type": "object", "required": ["orderId"]}))
    created = await run(
        "events", "create", "orderShipped", "--schema", str(schema_file), "--description", "sent"
    )
    assert "created custom event orderShipped" in created.out
    # custom events start inactive
    assert table_has(await run("events", "list"), "orderShipped", "no", "custom", "sent")
    again = (await run("--json", "events", "activate", "orderShipped")).json()
    assert again["active"] is True and again["standard"] is False
    active = (await run("--json", "events", "list", "--active-only")).json()["eventTypes"]
    assert "orderShipped" in {e["eventName"] for e in active}
    assert "now inactive" in (await run("events", "deactivate", "orderShipped")).out
    active = (await run("--json", "events", "list", "--active-only")).json()["eventTypes"]
    assert "orderShipped" not in {e["eventName"] for e in active}


async def test_validation_error_prints_field_violations(cli: Cli) -> None:
    bad = await cli(
        "webhooks", "create", "--name", "x", "--url", "ftp://nowhere", "--event", "noSuchEvent",
        "--max-connections", "5",
    )  # fmt: skip
    assert bad.code == 1 and bad.out == ""
    lines = bad.err.splitlines()
    assert lines[0].startswith("error: INVALID_ARGUMENT: ")
    assert "  - webhook.web_hook_url: must be an absolute http(s) URL" in lines
    assert any(ln.startswith("  - webhook.event_names[0]: unknown event") for ln in lines)
    assert any(ln.startswith("  reason: ") for ln in lines)


async def test_unknown_webhook_is_not_found(cli: Cli) -> None:
    missing = await cli("webhooks", "get", "5e9d7b03c64f3d00085d7f00")
    assert missing.code == 1
    assert missing.err.startswith("error: NOT_FOUND: ")
    assert "reason: WEBHOOK_NOT_FOUND" in missing.err


async def test_no_key_is_unauthenticated_with_a_hint(cli: Cli) -> None:
    result = await cli.raw("--address", cli.address, "webhooks", "list")
    assert result.code == 1
    assert result.err.startswith("error: UNAUTHENTICATED: ")
    assert "hint: no API key was sent" in result.err


async def test_unreachable_server_hints_at_make_run(cli: Cli) -> None:
    result = await cli.raw(
        "--address", f"127.0.0.1:{free_port()}", "--api-key", "k", "events", "list"
    )
    assert result.code == 1
    assert result.err.startswith("error: UNAVAILABLE: ")
    assert "is `make run` running?" in result.err


async def test_usage_errors_exit_2(cli: Cli) -> None:
    assert (await cli("webhooks", "frobnicate")).code == 2
    nothing = await cli("webhooks", "update", "5e9d7b03c64f3d00085d7f00")
    assert nothing.code == 2 and "nothing to update" in nothing.err
    bad_json = await cli("publish", "customerAdded", "--ref", "1_1", "--data", "{nope")
    assert bad_json.code == 2 and "--data is not valid JSON" in bad_json.err
    bad_header = await cli("webhooks", "update", "x", "--header", "novalue")
    assert bad_header.code == 2 and "expected NAME=VALUE" in bad_header.err


async def test_keys_create_list_revoke(cli: Cli) -> None:
    made = await cli.ok("--json", "keys", "create", "--role", "read", "--description", "ci")
    secret, key_id = made.json()["secret"], made.json()["apiKey"]["keyId"]
    assert SECRET_WARNING in made.err
    assert table_has(await cli.ok("keys", "list"), key_id, "READ", "active", "ci")
    as_reader = await cli.raw("--address", cli.address, "--api-key", secret, "events", "list")
    assert as_reader.code == 0
    assert f"key {key_id} revoked" in (await cli.ok("keys", "revoke", key_id)).out
    denied = await cli.raw("--address", cli.address, "--api-key", secret, "events", "list")
    assert denied.code == 1 and "error: UNAUTHENTICATED" in denied.err


async def test_credentials_file_found_walking_up(cli: Cli, tmp_path: Path) -> None:
    project = tmp_path / "project"
    nested = project / "src" / "deep"
    nested.mkdir(parents=True)
    write_credentials(project, cli.address, cli.key)
    found = await cli.raw("--json", "webhooks", "list", cwd=nested)
    assert found.code == 0, found.err
    assert found.json()["webhooks"] == []
    # flags and env win over the file
    overridden = await cli.raw("webhooks", "list", cwd=nested, env={"EVENTNOTIFY_API_KEY": "x"})
    assert overridden.code == 1 and "UNAUTHENTICATED" in overridden.err


async def test_credentials_file_in_home(cli: Cli) -> None:
    write_credentials(cli.home, cli.address, cli.key)
    found = await cli.raw("events", "list")
    assert found.code == 0, found.err
    assert table_has(found, "customerAdded")


async def test_send_test_reports_the_receivers_answer(cli: Cli, receiver: Receiver) -> None:
    receiver.on("/dead", lambda _r, _n: Reply(500, body="boom"))
    hooks = {}
    for name in ("live", "dead"):
        made = await cli.ok("--json", "webhooks", "create", "--name", name, "--url",
                            receiver.url(f"/{name}"), "--event", "customerAdded",
                            "--max-connections", "1")  # fmt: skip
        hooks[name] = made.json()["webhook"]["webHookId"]

    ok = await cli.ok("webhooks", "send-test", hooks["live"])
    fields = ok.fields()
    assert fields["success"] == "yes" and fields["httpStatus"] == "200"
    assert fields["signatureSent"] == "yes" and fields["responseExcerpt"] == "ok"
    [got] = receiver.ok_for("/live")
    assert got.headers.get("webhook-id") and fields["eventId"]

    failed = await cli("webhooks", "send-test", hooks["dead"])
    assert failed.code == 1 and failed.fields()["httpStatus"] == "500"
    assert "test delivery failed" in failed.err


async def test_publish_one_event_and_a_jsonl_batch(cli: Cli, tmp_path: Path) -> None:
    prefix = cli.api.settings.kafka.topic_prefix
    data = tmp_path / "data.json"
    data.write_text(json.dumps(TRANSACTION))
    one = await cli.ok("--json", "publish", "transactionAdded", "--ref", "1_tx-981",
                       "--data", f"@{data}", "--request-id", "req-p",
                       "--event-id", "ev-p-1")  # fmt: skip
    assert one.json()["eventId"] == "ev-p-1"
    assert one.json()["topic"] == f"{prefix}transactionAdded"
    [record] = await read_topic(
        cli.api.settings.kafka.bootstrap_servers, f"{prefix}transactionAdded"
    )
    assert record.key == b"1_tx-981"

    lines = [
        {"eventName": "transactionAdded", "refId": f"1_t{n}", "data": TRANSACTION} for n in range(3)
    ]
    batch = tmp_path / "events.jsonl"
    batch.write_text("\n".join(json.dumps(line) for line in lines) + "\n\n")
    published = await cli.ok("publish", "--file", str(batch), "--batch-size", "2")
    assert "published 2/3 events" in published.err and "published 3/3 events" in published.err
    assert published.out.splitlines()[0].split() == ["EVENT_ID", "TOPIC", "PARTITION", "OFFSET"]
    assert len(published.rows()) == 3
    assert all(row[1] == f"{prefix}transactionAdded" for row in published.rows())

    invalid = await cli("publish", "transactionAdded", "--ref", "1_x", "--data",
                        '{"transactionId": "not-a-number"}')  # fmt: skip
    assert invalid.code == 1 and invalid.err.startswith("error: INVALID_ARGUMENT")
    assert "\n  - " in invalid.err
