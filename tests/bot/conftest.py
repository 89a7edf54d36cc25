"""Fixtures the CLI tests share."""

from tests.harness.cli_book import cli  # noqa: F401  (a shared fixture)
