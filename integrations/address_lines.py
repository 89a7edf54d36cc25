"""Free-form address lines (HaloPSA's `delivery_address_line1..5`) mapped to our address fields.

Halo stores a site's address as up to five free-form lines (plus, on the full site, a postcode), so
a street, suburb, state and postcode sit wherever the person typing put them. The rule below reads
the *end* of the address, where the common layouts agree, and gives up (keeping every line as an
address line) rather than guess. The README's "HaloPSA address layouts" table lists the layouts it
recognises; `tests/integrations/test_address_lines.py` runs each of them.

The rule, applied to the non-empty lines in order:
1. A last line equal to the site's country (`country_code_name`) is dropped (the country has its own
   field).
2. The *tail* is read from the last line:
   - "QLD 4000" (a 2-3 letter upper-case state, then a 4-5 digit postcode) gives state and postcode,
     and "Brisbane QLD 4000" gives the suburb too;
   - a line that is only a postcode ("4000", "90210", "SW1A 2AA") gives the postcode, and then a
     line before it that is a state ("QLD", or the site's `region_code_name`) gives the state;
   - a line that is only a state gives the state.
3. If a tail was found and the line just before it has no digit, it is the suburb/city ("Sydney",
   "Surry Hills"); a line with a digit is a street line ("10 Pitt St", "Level 3"), never a city.
4. What is left are street lines: the first is address line 1, the others are joined with ", " into
   address line 2 (nothing is dropped).
5. No recognisable tail means an unknown layout: all lines stay address lines (1, then the rest in
   2), city/state/postcode stay empty, and the state falls back to `region_code_name`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

STATE = r"[A-Z]{2,3}"
POSTCODE = r"\d{4,5}(?:-\d{4})?|[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2}"
STATE_AND_POSTCODE = re.compile(rf"^(?:(?P<city>.*\D)[\s,]+)?(?P<state>{STATE})\s+(?P<postcode>{POSTCODE})$")
POSTCODE_ONLY = re.compile(rf"^(?:{POSTCODE})$")
STATE_ONLY = re.compile(rf"^{STATE}$")


@dataclass(frozen=True)
class Address:
    address_line1: str | None = None
    address_line2: str | None = None
    city: str | None = None
    state: str | None = None
    postcode: str | None = None


def split_address(
    lines: Iterable[object],
    *,
    postcode: object = None,
    region: object = None,
    country: object = None,
) -> Address:
    """Map free-form `lines` (plus a separate `postcode`, if the PSA has one) to an `Address`."""
    rest = [text for text in (_text(line) for line in lines) if text]
    separate = _text(postcode)
    if separate and (not rest or rest[-1].casefold() != separate.casefold()):
        rest.append(separate)
    region_name, country_name = _text(region), _text(country)
    if rest and country_name and rest[-1].casefold() == country_name.casefold():
        rest.pop()

    city = state = code = None
    found = False
    if rest:
        last = rest[-1]
        if match := STATE_AND_POSTCODE.match(last):
            rest.pop()
            found = True
            state, code = match["state"], match["postcode"]
            before = _text((match["city"] or "").strip(" ,"))
            if before and any(ch.isdigit() for ch in before):
                rest.append(before)  # "10 Pitt St NSW 2000": a street, not a suburb
            else:
                city = before
        elif POSTCODE_ONLY.match(last):
            rest.pop()
            found = True
            code = last
            if rest and _is_state(rest[-1], region_name):
                state = rest.pop()
        elif _is_state(last, region_name):
            rest.pop()
            found = True
            state = last
    if found and city is None and rest and not any(ch.isdigit() for ch in rest[-1]):
        city = rest.pop()
    return Address(
        address_line1=rest[0] if rest else None,
        address_line2=", ".join(rest[1:]) or None,
        city=city,
        state=state or region_name,
        postcode=code,
    )


def _is_state(text: str, region: str | None) -> bool:
    return bool(STATE_ONLY.match(text)) or (region is not None and text.casefold() == region.casefold())


def _text(value: object) -> str | None:
    if value is None:
        return None
    text = " ".join(str(value).split())
    return text or None
