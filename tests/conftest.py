"""Fixtures every test builds on: databases (SQLite and PostgreSQL), fake Slack, the real app server."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

import models
from bot.settings import Settings
from core.clock import DEFAULT_TIMEZONE
from core.db import make_engine
from tests.harness.app_server import AppServer
from tests.harness.clock import FixedClock
from tests.harness.databases import POSTGRES_SKIP, fresh_postgres_database, postgres_url, truncate_all
from tests.harness.fake_slack import FakeSlack
from tests.harness.rendering import billed  # noqa: F401  (a shared fixture)
from tests.harness.slack_sender import SlackSender
from tests.harness.slack_views import customer_view  # noqa: F401  (a shared fixture)

SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
BOT_TOKEN = "xoxb-test-token"
ADMIN = "U0ADMIN"
REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"


def pytest_report_header() -> str:
    server = postgres_url()
    if server is None:
        return f"PostgreSQL tests: OFF ({POSTGRES_SKIP})"
    return "PostgreSQL tests: ON, each run in a fresh database on " + server.rsplit("@", 1)[-1]


def create_schema(engine: Engine) -> None:
    """Tables from the models (fast), stamped at the migrations' head so a `serve` or `scheduler`
    process started by a test finds nothing to migrate. The migrations themselves are proven
    equivalent to the models in tests/bot/test_migrations.py."""
    from alembic import command

    from bot.migrate import alembic_config

    models.metadata.create_all(engine)
    config = alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.stamp(config, "head")


@pytest.fixture(scope="session")
def _postgres_run_db() -> Iterator[str | None]:
    server = postgres_url()
    if server is None:
        yield None
        return
    with fresh_postgres_database(server) as url:
        engine = make_engine(url)
        create_schema(engine)
        engine.dispose()
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path, _postgres_run_db: str | None) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'rebill.db'}"
    if _postgres_run_db is None:
        pytest.skip(POSTGRES_SKIP)
    return _postgres_run_db


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    if engine.dialect.name == "sqlite":
        create_schema(engine)
    else:
        truncate_all(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def db(engine: Engine) -> Iterator[Session]:
    with Session(engine, expire_on_commit=False) as session:
        yield session


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    fake = FakeSlack(bot_token=BOT_TOKEN).start()
    yield fake
    fake.stop()


def make_settings(fake_slack: FakeSlack, db_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "slack_bot_token": BOT_TOKEN,
        "slack_signing_secret": SIGNING_SECRET,
        "slack_app_token": None,
        "slack_api_url": fake_slack.api_url,
        "database_url": db_url,
        "rebill_admins": ADMIN,
        "rebill_timezone": DEFAULT_TIMEZONE,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
def settings(fake_slack: FakeSlack, db_url: str) -> Settings:
    return make_settings(fake_slack, db_url)


@pytest.fixture
def app_server(settings: Settings, engine: Engine, clock: FixedClock) -> Iterator[AppServer]:
    server = AppServer(settings, engine, clock).start()
    yield server
    server.stop()


@pytest.fixture
def slack(app_server: AppServer, fake_slack: FakeSlack) -> SlackSender:
    """Signed requests to the running app; each call returns once the app's listeners finished."""
    return SlackSender(
        app_server.url + "/slack/events",
        SIGNING_SECRET,
        response_url=fake_slack.response_url,
        after_request=app_server.executor.wait_idle,
    )


if os.environ.get("MUTANT_UNDER_TEST"):  # mutmut: every mutant reruns the tests, so fewer examples each
    from hypothesis import settings as _hypothesis_settings

    _hypothesis_settings.register_profile("mutation", max_examples=20, deadline=None)
    _hypothesis_settings.load_profile("mutation")
