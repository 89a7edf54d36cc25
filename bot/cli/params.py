"""Argument types the commands share, so a month or a list of line numbers is parsed one way."""

from __future__ import annotations

from typing import Any

import click

from core.calculation import Period


class PeriodType(click.ParamType):
    """A billing month, YYYY-MM, parsed by `Period.parse` (the parser Slack uses too)."""

    name = "YYYY-MM"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Period:
        if isinstance(value, Period):
            return value
        try:
            return Period.parse(value)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


PERIOD = PeriodType()
