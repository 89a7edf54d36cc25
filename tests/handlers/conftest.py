"""Fixtures the Slack handler tests share."""

from tests.harness.invoice_book import book  # noqa: F401  (a shared fixture)
