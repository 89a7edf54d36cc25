"""The Xero API client as the app uses it: tokens from the database, the budget every replica shares."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
from sqlalchemy.engine import Engine

from core.clock import Clock
from core.xero_budget import CallBudget
from core.xero_tokens import StoredTokens
from integrations.http import RetryPolicy
from integrations.xero import Budget, XeroClient
from integrations.xero_auth import XeroConfig


def xero_client(
    *,
    engine: Engine,
    config: XeroConfig,
    clock: Clock,
    sleep: Callable[[float], None] = time.sleep,
    budget: Budget | None = None,
    policy: RetryPolicy | None = None,
    transport: httpx.BaseTransport | None = None,
) -> XeroClient:
    """The Xero API client over the stored tokens and the shared call budget (`core.xero_budget`)."""
    return XeroClient(
        config=config,
        tokens=StoredTokens(engine, config, clock),
        budget=budget or CallBudget(engine, clock=clock, sleep=sleep),
        sleep=sleep,
        policy=policy,
        transport=transport,
    )
