"""`serve` with SLACK_APP_TOKEN set talks Socket Mode: it asks apps.connections.open for a WebSocket
URL, connects, and acknowledges envelopes with the same answers the HTTP endpoint gives."""

from __future__ import annotations

import queue
import subprocess
from pathlib import Path

from tests.harness.cli import CLI, app_env
from tests.harness.fake_slack import FakeSlack
from tests.harness.fake_socket_mode import FakeSocketMode


def test_socket_mode_answers_a_slash_command(tmp_path: Path, fake_slack: FakeSlack) -> None:
    socket = FakeSocketMode()
    fake_slack.socket_url = socket.url
    env = app_env(fake_slack, f"sqlite:///{tmp_path / 'r.db'}", SLACK_APP_TOKEN="xapp-1-A0REBILL-test")
    process = subprocess.Popen(
        [*CLI, "serve", "--no-scheduler"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert socket.connected.wait(timeout=60), "the app never connected"
        opened = fake_slack.calls_to("apps.connections.open")
        assert opened and opened[0].headers["authorization"] == "Bearer xapp-1-A0REBILL-test"
        for user, envelope_id in (("U0ADMIN", "env-1"), ("U0STRANGER", "env-2")):
            socket.push(
                {
                    "envelope_id": envelope_id,
                    "type": "slash_commands",
                    "accepts_response_payload": True,
                    "payload": {
                        "command": "/rebill",
                        "text": "help",
                        "user_id": user,
                        "team_id": "T0TEST",
                        "channel_id": "C0GENERAL",
                        "trigger_id": "1.trigger",
                        "response_url": fake_slack.response_url(),
                    },
                }
            )
        acks = {}
        while len(acks) < 2:
            try:
                ack = socket.acks.get(timeout=30)
            except queue.Empty as exc:
                raise AssertionError(f"no ack; app said: {process.stdout}") from exc
            acks[ack["envelope_id"]] = ack
        assert "/rebill help" in acks["env-1"]["payload"]["text"]
        assert "not authorised" in acks["env-2"]["payload"]["text"]
    finally:
        process.terminate()
        process.wait(timeout=20)
        socket.stop()
