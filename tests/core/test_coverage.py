"""core.coverage: the ledger's day arithmetic against a plain set-of-days model."""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import date, timedelta
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from core.coverage import (
    OPEN_END,
    Covered,
    Version,
    days_in,
    intersect,
    net_coverage,
    normalise,
    owed_segments,
    subtract,
)

BASE = date(2026, 1, 1)
spans = st.lists(
    st.tuples(st.integers(0, 60), st.integers(-3, 20)).map(
        lambda t: (BASE + timedelta(days=t[0]), BASE + timedelta(days=t[0] + t[1]))
    ),
    max_size=6,
)


def days(found: list[tuple[date, date]]) -> set[date]:
    out: set[date] = set()
    for start, end in found:
        day = start
        while day <= end:
            out.add(day)
            day += timedelta(days=1)
    return out


@given(spans, spans)
def test_span_algebra_is_set_algebra(a: list[tuple[date, date]], b: list[tuple[date, date]]) -> None:
    merged = normalise(a)
    assert days(merged) == days(a) and days_in(a) == len(days(a))
    assert all(x[1] + timedelta(days=1) < y[0] for x, y in itertools.pairwise(merged))
    assert days(subtract(a, b)) == days(a) - days(b)
    assert days(intersect(a, b)) == days(a) & days(b)
    assert normalise(subtract(a, b)) == subtract(a, b)


def test_touching_spans_merge_and_empty_ones_vanish() -> None:
    d = BASE
    assert normalise([(d, d), (d + timedelta(days=1), d + timedelta(days=2))]) == [(d, d + timedelta(days=2))]
    assert normalise([(d + timedelta(days=2), d)]) == []
    assert subtract([(d, OPEN_END)], [(d, d)]) == [(d + timedelta(days=1), OPEN_END)]


entries = st.lists(
    st.tuples(st.integers(0, 40), st.integers(0, 15), st.booleans(), st.sampled_from([1, 2])), max_size=8
)


@given(entries)
def test_net_coverage_counts_billed_minus_credited_per_day_and_version(
    raw: list[tuple[int, int, bool, int]],
) -> None:
    versions = [Version(1, BASE, Decimal("10"), Decimal("1")), Version(2, BASE, Decimal("12"), Decimal("1"))]
    found = [
        Covered(
            1,
            BASE + timedelta(days=s),
            BASE + timedelta(days=s + n),
            versions[v - 1].unit_price,
            Decimal(1),
            v,
            c,
        )
        for s, n, c, v in raw
    ]
    expected: Counter[tuple[date, int]] = Counter()
    for e in found:
        for day in days([(e.start, e.end)]):
            expected[(day, e.version)] += -1 if e.credit else 1
    got: Counter[tuple[date, int]] = Counter()
    for segment in net_coverage(found, versions):
        assert segment.count != 0 and segment.version in versions
        for day in days([segment.span]):
            got[(day, segment.version.number)] += segment.count
    assert +got == +expected and -got == -expected


def test_a_line_billed_at_a_price_its_version_no_longer_has_stands_apart() -> None:
    now = Version(1, BASE, Decimal("12"), Decimal("1"))
    old = Covered(1, BASE, BASE + timedelta(days=9), Decimal("10"), Decimal("1"), 1, False)
    [segment] = net_coverage([old], [now])
    # Apart from every owed version (no owed day matches it), but under the number it was billed
    # with: the credit line for it is stored as version 1 at 10 and nets with this bill next run.
    assert segment.version != now and segment.version.unit_price == Decimal("10")
    assert (segment.version.number, segment.version.start) == (1, date.min)


def test_owed_segments_follow_the_versions_inside_the_window() -> None:
    v1 = Version(1, BASE, Decimal("10"), Decimal("1"))
    v2 = Version(2, date(2026, 1, 16), Decimal("12"), Decimal("1"))
    found = owed_segments([v2, v1], (date(2026, 1, 10), date(2026, 1, 20)))
    assert [(s.start, s.end, s.version.number) for s in found] == [
        (date(2026, 1, 10), date(2026, 1, 15), 1),
        (date(2026, 1, 16), date(2026, 1, 20), 2),
    ]
    assert owed_segments([v1], None) == []
    assert owed_segments([v2], (BASE, date(2026, 1, 15))) == []
