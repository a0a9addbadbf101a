"""Settings: built from an environment mapping, validated, documented."""

from __future__ import annotations

from pathlib import Path

import pytest

from eventnotify.settings import Settings, SettingsError, describe

README = Path(__file__).resolve().parents[2] / "README.md"


def test_defaults_and_overrides() -> None:
    s = Settings.from_env({"KAFKA_SESSION_TIMEOUT_MS": "2000", "EVENTNOTIFY_SCHEMA_MODE": "flag"})
    assert s.kafka.session_timeout_ms == 2000
    assert s.kafka.heartbeat_interval_ms == 3000  # Kafka's default kept
    assert s.dispatcher.schema_mode == "flag"
    assert s.mongo.log_ttl_days == 30


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"MONGODB_TIMEOUT_MS": "soon"}, "MONGODB_TIMEOUT_MS"),
        ({"EVENTNOTIFY_RATE_LIMIT_RPS": "-1"}, "EVENTNOTIFY_RATE_LIMIT_RPS"),
        ({"EVENTNOTIFY_SCHEMA_MODE": "maybe"}, "EVENTNOTIFY_SCHEMA_MODE"),
    ],
)
def test_bad_values_name_the_variable(env: dict[str, str], needle: str) -> None:
    with pytest.raises(SettingsError, match=needle):
        Settings.from_env(env)


def test_readme_configuration_table_lists_every_setting() -> None:
    # The README is being split into docs/: a row may live in either.
    readme = README.read_text() + "".join(
        page.read_text() for page in sorted((README.parent / "docs").glob("*.md"))
    )
    for env_name, default, _doc in describe():
        assert f"| `{env_name}` | `{default}` |" in readme, env_name
