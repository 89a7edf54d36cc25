"""The one error id: short enough to quote, different each time so a log search finds one failure."""

from __future__ import annotations

import re

from core.errors import error_id


def test_error_ids_are_eight_hex_digits_and_do_not_repeat() -> None:
    ids = {error_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(re.fullmatch(r"[0-9a-f]{8}", i) for i in ids)


def test_the_collector_keeps_every_field_and_raises_them_together() -> None:
    import pytest

    from core.errors import ErrorCollector, FieldErrors

    errors = ErrorCollector()
    assert errors.check("a", lambda: int("7")) == 7
    assert errors.check("b", lambda: int("x")) is None
    errors.add("b", "a second problem with b is not shown over the first")
    errors.absorb(FieldErrors({"c": "from a nested form"}))
    with pytest.raises(FieldErrors) as raised:
        errors.raise_if_any()
    assert set(raised.value.errors) == {"b", "c"} and "invalid literal" in raised.value.errors["b"]
    ErrorCollector().raise_if_any()  # nothing collected: nothing raised
