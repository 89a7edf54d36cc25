"""Imports every feature's CLI module, so their commands attach to `rebill-bot`."""

from bot import cli_charges, cli_demo, cli_invoices, cli_jobs, cli_psa, cli_usage  # noqa: F401
