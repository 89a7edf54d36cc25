"""manifest.yml must be a valid Slack app manifest and match what the code registers."""

from __future__ import annotations

import json

import jsonschema
import pytest
import yaml

from handlers.commands import COMMAND
from tests.conftest import REPO

# Vendored with its licence (see tests/vendor/slack/README.md): the test never skips.
SCHEMA = REPO / "tests" / "vendor" / "slack" / "manifest.schema.1.0.0.json"


def load_manifest() -> dict:
    return yaml.safe_load((REPO / "manifest.yml").read_text())


def test_manifest_validates_against_slacks_schema() -> None:
    schema = json.loads(SCHEMA.read_text())
    jsonschema.validate(load_manifest(), schema)


def test_manifest_declares_what_the_app_uses() -> None:
    manifest = load_manifest()
    commands = [c["command"] for c in manifest["features"]["slash_commands"]]
    assert commands == [COMMAND]
    assert manifest["settings"]["interactivity"]["is_enabled"] is True
    assert manifest["features"]["app_home"]["home_tab_enabled"] is True
    assert manifest["settings"]["socket_mode_enabled"] is True
    assert "app_home_opened" in manifest["settings"]["event_subscriptions"]["bot_events"]


def test_schema_check_catches_a_broken_manifest() -> None:
    broken = load_manifest()
    del broken["display_information"]["name"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, json.loads(SCHEMA.read_text()))
