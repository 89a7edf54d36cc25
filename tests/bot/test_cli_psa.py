"""`rebill-bot psa ...` and the scheduled PSA refresh, against a fake Autotask over HTTP."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from bot.jobs import find
from bot.psa_alerts import post_psa_changes
from bot.scheduler import job_context
from bot.settings import Settings
from core import billing_settings
from core.db import make_engine, session_scope
from core.psa_sync import CustomerChange
from models.customers import EndCustomer
from models.psa import PsaCompany
from tests import factories
from tests.harness.cli import CLI, app_env, clean_env
from tests.harness.clock import FixedClock
from tests.harness.fake_psa import FakeAutotask, make_companies
from tests.harness.fake_slack import FakeSlack
from tests.harness.jobs import NO_PSA, SYDNEY_0930
from tests.harness.slack_views import psa_settings, texts


@pytest.fixture
def autotask() -> Iterator[FakeAutotask]:
    with FakeAutotask(make_companies(30)) as fake:
        yield fake


def autotask_env(fake: FakeAutotask, **extra: str) -> dict[str, str]:
    return clean_env(
        REBILL_PSA="autotask",
        AUTOTASK_USERNAME=fake.username,
        AUTOTASK_SECRET=fake.secret,
        AUTOTASK_INTEGRATION_CODE=fake.integration_code,
        AUTOTASK_ZONE_URL=fake.zone_url,
        **extra,
    )


def run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120)


def test_psa_cli(autotask: FakeAutotask, tmp_path: Path) -> None:
    env = autotask_env(autotask, DATABASE_URL=f"sqlite:///{tmp_path / 'r.db'}")
    assert run(["db", "upgrade"], env, tmp_path).returncode == 0
    assert run(["psa", "check"], env, tmp_path).returncode == 0
    found = run(["psa", "search", "company 00001"], env, tmp_path)
    assert (
        found.returncode == 0
        and "Company 000012 Pty Ltd" in found.stdout
        and "Company 000010" not in found.stdout
    )
    engine = make_engine(env["DATABASE_URL"])
    linked = factories.customer(engine, "Typed Name", city="Typed City")
    with session_scope(engine) as db:
        customer = db.get(EndCustomer, linked.id)
        customer.psa_kind, customer.psa_ref = "autotask", "7"
    autotask.companies[7].city = None  # empty in the PSA: the typed city stays
    engine.dispose()
    synced = run(["psa", "sync"], env, tmp_path)
    assert "cached 27 active companies" in synced.stdout  # 30, less every 10th (inactive)
    assert "synced 1 linked customer(s): 1 updated" in synced.stdout
    assert f"customer {linked.id} Company 000007 Pty Ltd: Company name: Typed Name → Company 000007" in (
        synced.stdout
    )
    assert "Typed City" not in synced.stdout
    bad = run(["psa", "check"], env | {"AUTOTASK_SECRET": "wrong"}, tmp_path)
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
    missing = run(
        ["psa", "check"], clean_env(REBILL_PSA="autotask", DATABASE_URL=env["DATABASE_URL"]), tmp_path
    )
    assert missing.returncode == 2 and "AUTOTASK_SECRET is not set" in missing.stderr


def test_scheduled_refresh_syncs_and_reports_a_failure_once(
    autotask: FakeAutotask, settings: Settings, engine: Engine, fake_slack: FakeSlack
) -> None:
    factories.configure(engine)
    with session_scope(engine) as db:
        billing_settings.load(db).alert_channel_id = "C0ALERTS"
    linked = factories.customer(engine, "Old Name")
    with session_scope(engine) as db:
        customer = db.get(EndCustomer, linked.id)
        customer.psa_kind, customer.psa_ref = "autotask", "7"
    ctx = job_context(settings, engine, FixedClock(SYDNEY_0930), psa_settings("autotask", autotask))
    spec = find("psa_refresh")
    assert spec is not None
    summary = spec.run(ctx, SYDNEY_0930)
    assert summary.startswith("cached 27 companies; synced 1 customers (1 updated)")
    assert summary.endswith("changes posted for 1 customer(s)")
    assert spec.run(ctx, SYDNEY_0930).startswith("already done")
    with Session(engine) as db:
        assert db.get(EndCustomer, linked.id).company_name == "Company 000007 Pty Ltd"
    [changed] = fake_slack.calls_to("chat.postMessage")
    shown = texts(changed.params["blocks"])
    assert changed.params["channel"] == "C0ALERTS"
    assert "The Autotask resync changed 1 customer" in shown
    assert "Company name: Old Name → Company 000007 Pty Ltd" in shown

    autotask.fail_next("*", status=401, body='{"errors": ["bad secret"]}', times=20)
    later = SYDNEY_0930 + timedelta(hours=6)
    assert spec.run(ctx, later).startswith("refresh failed")
    assert spec.run(ctx, later).startswith("already done")
    [_, alert] = fake_slack.calls_to("chat.postMessage")
    assert "the previous list is kept" in texts(alert.params["blocks"])
    with Session(engine) as db:
        assert len(db.exec(select(PsaCompany)).all()) == 27


def test_serve_refuses_a_half_configured_psa(tmp_path: Path, fake_slack: FakeSlack) -> None:
    env = app_env(fake_slack, f"sqlite:///{tmp_path / 'r.db'}", REBILL_PSA="halopsa")
    result = run(["serve", "--no-scheduler"], env, tmp_path)
    assert (
        result.returncode == 2
        and "HALOPSA_URL is not set" in result.stderr
        and "Traceback" not in result.stderr
    )


def test_the_changes_alert_is_claimed_once_per_slot(
    engine: Engine, fake_slack: FakeSlack, settings: Settings
) -> None:
    ctx = job_context(settings, engine, FixedClock(SYDNEY_0930), NO_PSA)
    changes = [CustomerChange(7, "<!here> Acme", {"city": ["Sydney", None], "psa_inactive": [False, True]})]
    args = (ctx.engine, ctx.poster, "C0ALERTS", "autotask", "2026-12-02T09", changes)
    assert post_psa_changes(*args, clock=ctx.clock, worker="replica-1") == "changes posted for 1 customer(s)"
    assert post_psa_changes(*args, clock=ctx.clock, worker="replica-2") == "changes already posted"
    [message] = fake_slack.calls_to("chat.postMessage")
    shown = texts(message.params["blocks"])
    assert "&lt;!here&gt; Acme" in shown and "<!here>" not in shown
    assert "Suburb / city: Sydney → (empty)" in shown and "now inactive in the PSA" in shown
    assert post_psa_changes(*args[:-1], [], clock=ctx.clock, worker="x") == "no changes"
