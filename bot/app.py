"""create_app(settings) -> a Bolt App wired to our database, clock and Slack Web API base URL."""

from __future__ import annotations

import logging
from concurrent.futures import Executor

from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from sqlalchemy.engine import Engine

from bot.middleware import inject, require_admin
from bot.settings import Settings
from core.clock import BusinessClock, Clock, SystemClock
from core.db import make_engine
from core.workpool import Workers
from handlers.access import AccessPolicy
from handlers.deps import Deps
from integrations.config import PsaSettings, load_psa_settings


def make_web_client(settings: Settings) -> WebClient:
    client = WebClient(
        token=settings.slack_bot_token.get_secret_value(),
        base_url=settings.slack_api_url,
        timeout=10,
    )
    client.retry_handlers.extend(
        [
            ConnectionErrorRetryHandler(max_retry_count=2),
            RateLimitErrorRetryHandler(max_retry_count=3),
            ServerErrorRetryHandler(max_retry_count=2),
        ]
    )
    return client


def create_app(
    settings: Settings,
    *,
    engine: Engine | None = None,
    clock: Clock | None = None,
    listener_executor: Executor | None = None,
    slow_executor: Executor | None = None,
    psa: PsaSettings | None = None,
) -> App:
    logging.getLogger().setLevel(settings.log_level)
    client = make_web_client(settings)
    clock = BusinessClock(clock or SystemClock(), settings.tz)
    deps = Deps(
        settings=settings,
        engine=engine or make_engine(settings.database_url),
        clock=clock,
        access=AccessPolicy(
            users=settings.admin_users, groups=settings.admin_groups, client=client, clock=clock
        ),
        psa=psa if psa is not None else load_psa_settings(),
        workers=Workers.build(listener_executor=listener_executor, slow_executor=slow_executor),
    )
    app = App(
        client=client,
        signing_secret=settings.slack_signing_secret.get_secret_value(),
        # auth.test happens in `rebill-bot check`; a Slack blip must not stop a replica starting.
        token_verification_enabled=False,
        # Listeners answer without Bolt's polling thread runner: handlers.base.listener runs each
        # one on deps.workers.listeners and returns as soon as it acks (an Event, not a 10 ms poll);
        # slow work goes to deps.workers.slow. See core.workpool.
        process_before_response=True,
    )
    app.use(inject(deps))
    app.use(require_admin)

    from handlers import register_all

    register_all(app)
    return app
