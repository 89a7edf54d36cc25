"""Slack listeners, one module per feature, each exposing `register(app)`."""

from __future__ import annotations

from slack_bolt import App

from handlers import (
    alerts,
    charges,
    commands,
    customers,
    errors,
    home,
    invoices,
    month_close,
    psa,
    setup,
    usage,
    xero,
)


def register_all(app: App) -> None:
    errors.register(app)
    commands.register(app)
    setup.register(app)
    customers.register(app)
    charges.register(app)
    psa.register(app)
    invoices.register(app)
    alerts.register(app)
    month_close.register(app)
    home.register(app)
    xero.register(app)
    usage.register(app)
