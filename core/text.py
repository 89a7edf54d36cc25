"""The one normaliser for text people type (customer, service, charge, settings fields).

Refused or removed before anything is stored:
- NUL and the other C0/C1 control characters, and DEL: PostgreSQL rejects NUL outright (the user
  saw the generic error), and the rest print as raw escape sequences in a terminal (the CLI) or
  vanish in Slack, so two names that look the same would differ.
- Bidi overrides, embeddings and isolates (U+202A..U+202E, U+2066..U+2069) and the invisible
  direction marks: they make "evil.exe" display as "exe.live", the trick behind Trojan Source.
- Runs of whitespace collapse to one space and the ends are trimmed; a multi-line field keeps
  its line breaks (one per line, no trailing spaces).

NFC normalisation makes a name typed on a Mac and one pasted from Windows compare equal.
Digits: `ascii_digits` is the only "is this a number" test; `str.isdigit()` accepts "²" and
"٣", which `int()` then refuses or silently converts.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final

_INVISIBLE: Final = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]"
)
_LINE_BREAKS: Final = re.compile(r"\r\n|[\r\n\u2028\u2029\x85]")


def clean_text(value: object, *, multiline: bool = False) -> str | None:
    """`value` as safe, tidy text, or None when nothing printable is left."""
    if value is None:
        return None
    text = unicodedata.normalize("NFC", str(value))
    if multiline:
        lines = (_tidy(line) for line in _LINE_BREAKS.split(text))
        text = "\n".join(line for line in lines if line)
    else:
        text = _tidy(text)
    return text or None


def _tidy(text: str) -> str:
    # Tabs and line breaks become spaces first (they separate words), then the rest go.
    return " ".join(_INVISIBLE.sub("", re.sub(r"[\t\n\r\x0b\x0c\x85\u2028\u2029]", " ", text)).split())


def name_key(name: str) -> str:
    """The lookup and uniqueness key of a name: runs of spaces collapsed, ends trimmed, casefolded.

    The one key for customers and cached PSA companies alike: a key written by the PSA sync that
    a typed lookup could never produce (it kept a double space) hid the customer from its name.
    """
    return " ".join(name.split()).casefold()


def ascii_digits(text: str) -> bool:
    return text.isascii() and text.isdigit()
