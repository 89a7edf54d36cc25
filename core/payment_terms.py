"""When an invoice falls due: a customer's own terms, else the business default.

The rule is read when an invoice is written (its due date), when a customer is shown in Slack and
when the CLI lists customers; one function keeps those three from drifting apart.
"""

from __future__ import annotations


def effective_days(override: int | None, default: int | None) -> int:
    """A customer's override wins even when it is 0 (due on issue); with neither set, due on issue."""
    if override is not None:
        return override
    return default or 0


def describe(override: int | None, default: int | None) -> str:
    """How the terms read to a person: whether they follow the default matters when it changes."""
    days = effective_days(override, default)
    return f"{days} days" if override is not None else f"default ({days} days)"
