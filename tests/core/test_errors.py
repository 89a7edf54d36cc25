"""The one error id: short enough to quote, different each time so a log search finds one failure."""

from __future__ import annotations

import re

from core.errors import error_id


def test_error_ids_are_eight_hex_digits_and_do_not_repeat() -> None:
    ids = {error_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(re.fullmatch(r"[0-9a-f]{8}", i) for i in ids)
