"""The HaloPSA address layout rule, run on every layout the README documents (and a few edges)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from integrations.address_lines import Address, split_address
from integrations.halopsa import site_fields

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_layouts() -> list[tuple[str, Address]]:
    """The rows of the README's "HaloPSA address layouts" table: the promise this test keeps."""
    text = README.read_text(encoding="utf-8")
    table = text.split("### HaloPSA address layouts", 1)[1].split("\n\n", 2)[1]
    rows = []
    for line in table.splitlines()[2:]:
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        lines = cells[0].strip("`")
        line1, line2, city, state, postcode = (c or None for c in cells[1:])
        rows.append((lines, Address(line1, line2, city, state, postcode)))
    return rows


LAYOUTS = readme_layouts()


def test_the_readme_documents_the_common_layouts() -> None:
    assert len(LAYOUTS) >= 8
    assert any(re.search(r"/ [A-Z]{2,3} \d{4}$", lines) for lines, _ in LAYOUTS)  # "QLD 4000"
    assert any(expected.address_line2 and not expected.city for _, expected in LAYOUTS)  # unknown


@pytest.mark.parametrize(("lines", "expected"), LAYOUTS, ids=[lines for lines, _ in LAYOUTS])
def test_each_documented_layout_maps_as_the_readme_says(lines: str, expected: Address) -> None:
    assert split_address(lines.split(" / "), country="New Zealand") == expected


def test_the_region_fills_a_missing_state_and_blank_lines_are_skipped() -> None:
    assert split_address(["", "7 Bay Rd", None, "Wellington", "6011"], region="Wellington Region") == (
        Address("7 Bay Rd", None, "Wellington", "Wellington Region", "6011")
    )
    # the region named as a line is the state
    assert split_address(["7 Bay Rd", "Te Aro", "Wellington Region", "6011"], region="Wellington Region") == (
        Address("7 Bay Rd", None, "Te Aro", "Wellington Region", "6011")
    )


def test_a_street_before_the_state_is_not_a_suburb() -> None:
    assert split_address(["10 Pitt St NSW 2000"]) == Address("10 Pitt St", None, None, "NSW", "2000")
    assert split_address(["Level 3", "NSW 2000"]) == Address("Level 3", None, None, "NSW", "2000")


def test_nothing_at_all_is_an_empty_address() -> None:
    assert split_address([None, "", "  "]) == Address()


def test_the_full_site_address_object_and_its_postcode() -> None:
    site = {
        "phonenumber": " 02 9000 0000 ",
        "delivery_address": {"line1": "10 Pitt St", "line2": "Sydney", "line3": "NSW", "postcode": "2000"},
        "country_code_name": "Australia",
    }
    assert site_fields(site) == {
        "phone": "02 9000 0000",
        "address_line1": "10 Pitt St",
        "address_line2": None,
        "city": "Sydney",
        "state": "NSW",
        "postcode": "2000",
        "country": "Australia",
    }
