"""Imports every feature's CLI module, so their commands attach to `rebill-bot`."""

from bot import (  # noqa: F401
    cli_charges,
    cli_demo,
    cli_invoices,
    cli_jobs,
    cli_psa,
    cli_settings,
    cli_usage,
    cli_xero,
)
