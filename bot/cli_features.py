"""Imports every feature's CLI module so their commands attach to `rebill-bot`."""

import importlib

FEATURE_MODULES = ("bot.cli_charges", "bot.cli_invoices", "bot.cli_psa", "bot.cli_jobs", "bot.cli_demo")

for _name in FEATURE_MODULES:
    try:
        importlib.import_module(_name)
    except ModuleNotFoundError as exc:  # a feature not built yet
        if exc.name != _name:
            raise
