"""`rebill-bot`: the command line, one module per feature, each exposing `register(main)` the way
`handlers/` registers Slack listeners. Modules share only what `context` (CliContext), `params`
(argument types) and `errors` (the one error wrapper) export; none imports another's helpers.

Expected failures print one line on stderr and exit non-zero (`errors.RebillGroup`); configuration
problems exit 2. The console script `rebill-bot` and `python -m bot` both run `main`.
"""

from __future__ import annotations

import click

from bot.cli import (
    billing,
    charges,
    customers,
    database,
    demo,
    invoices,
    jobs,
    psa,
    reports,
    serve,
    settings,
    usage,
    xero,
)
from bot.cli.root import main

FEATURES = (
    serve,
    database,
    settings,
    customers,
    charges,
    billing,
    invoices,
    usage,
    reports,
    xero,
    psa,
    jobs,
    demo,
)


def register_all(group: click.Group) -> None:
    for feature in FEATURES:
        feature.register(group)


register_all(main)

__all__ = ["main"]
