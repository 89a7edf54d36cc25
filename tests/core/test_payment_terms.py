"""The one payment-terms rule: a customer's override (even 0) wins over the business default."""

from __future__ import annotations

from core.payment_terms import describe, effective_days


def test_an_override_wins_even_when_it_is_zero() -> None:
    assert effective_days(0, 30) == 0
    assert effective_days(45, 30) == 45


def test_without_an_override_the_default_then_due_on_issue() -> None:
    assert effective_days(None, 30) == 30
    assert effective_days(None, None) == 0


def test_the_words_say_whether_the_default_is_followed() -> None:
    assert describe(14, 30) == "14 days"
    assert describe(None, 30) == "default (30 days)"
