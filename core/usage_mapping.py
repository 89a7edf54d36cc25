"""Usage file mappings: how a supplier's own CSV columns map onto rebill-bot's usage fields.

A mapping is a small TOML file (README "Usage files"): `[columns]` maps our field names to the
file's headers, `[defaults]` gives constants, plus `source` (usage ids are unique per source),
`delimiter`, `date_format` (strftime), `encoding` and `require_all_columns`. Examples ship in
`core/usage_maps/` and can be named directly (`--map telco_cdr`). Everything is checked before
a single row is read, and every problem is named at once.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from importlib import resources
from pathlib import Path
from typing import Final

from core.errors import RebillError

FIELDS: Final = (
    "usage_id",
    "customer_id",
    "customer",
    "psa_reference",
    "service_reference",
    "date",
    "period",
    "description",
    "quantity",
    "unit_cost",
    "unit_price",
    "taxable",
)
WHO: Final = ("customer_id", "customer", "psa_reference", "service_reference")
SHIPPED_MAPS: Final = "usage_maps"


class MappingError(RebillError):
    """The mapping file (or the file's header) can't be used; nothing was read."""


@dataclass(frozen=True)
class UsageMapping:
    """How one supplier's file maps onto our fields (see the module docstring and README)."""

    columns: Mapping[str, str]  # our field -> the file's column header
    defaults: Mapping[str, str] = field(default_factory=dict)  # our field -> a constant
    source: str = ""
    delimiter: str = ","
    date_format: str = "%Y-%m-%d"
    encoding: str = "utf-8-sig"
    name: str = "standard columns"
    require_all_columns: bool = True  # False: a mapped column missing from the file is just unused


STANDARD: Final = UsageMapping(columns={name: name for name in FIELDS}, require_all_columns=False)


def shipped_maps() -> list[str]:
    """Names of the example mappings that ship with rebill-bot (`--map NAME` finds them)."""
    folder = resources.files("core").joinpath(SHIPPED_MAPS)
    return sorted(p.name.removesuffix(".toml") for p in folder.iterdir() if p.name.endswith(".toml"))


def load_mapping(ref: str | Path | None) -> UsageMapping:
    """A mapping from a TOML file, a shipped map's name, or the standard columns (None)."""
    if ref is None or str(ref) == "":
        return STANDARD
    path = Path(ref)
    if not path.exists() and str(ref) in shipped_maps():
        text = resources.files("core").joinpath(SHIPPED_MAPS, f"{ref}.toml").read_text("utf-8")
        return parse_mapping(text, name=str(ref))
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        shipped = ", ".join(shipped_maps())
        raise MappingError(
            f"Can't read the mapping {ref}: {exc.strerror or exc} (shipped maps: {shipped})."
        ) from None
    return parse_mapping(text, name=path.name)


def parse_mapping(text: str, *, name: str = "mapping") -> UsageMapping:
    """Check a mapping's TOML and return it; MappingError naming every problem otherwise."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise MappingError(f"{name} is not valid TOML: {exc}") from None
    problems: list[str] = []
    unknown = set(data) - {
        "source",
        "delimiter",
        "date_format",
        "encoding",
        "columns",
        "defaults",
        "require_all_columns",
    }
    if unknown:
        problems.append(f"unknown setting(s) {', '.join(sorted(unknown))}")
    columns = data.get("columns", {})
    defaults = {
        k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in data.get("defaults", {}).items()
    }
    if not isinstance(columns, dict) or not all(isinstance(v, str) and v for v in columns.values()):
        problems.append("[columns] must map our field names to the file's column headers (text)")
        columns = {}
    for table, names in (("columns", columns), ("defaults", defaults)):
        bad = set(names) - set(FIELDS)
        if bad:
            problems.append(
                f"[{table}] has unknown field(s) {', '.join(sorted(bad))} (known: {', '.join(FIELDS)})"
            )
    have = set(columns) | set(defaults)
    for needed in ("usage_id", "quantity", "unit_cost", "description"):
        if needed not in have:
            problems.append(f"no column (or default) for {needed}")
    if "usage_id" in defaults:
        problems.append("usage_id can't have a default: it must be each row's own charge id")
    if not have & {"date", "period"}:
        problems.append("no column for date or period")
    if not have & set(WHO):
        problems.append(f"no column for the customer (one of {', '.join(WHO)})")
    delimiter = data.get("delimiter", ",")
    if not isinstance(delimiter, str) or len(delimiter) != 1:
        problems.append("delimiter must be one character")
    source = str(data.get("source", ""))
    if len(source) > 40:
        problems.append("source must be at most 40 characters")
    date_format = str(data.get("date_format", "%Y-%m-%d"))
    try:
        datetime.strptime(date.today().strftime(date_format), date_format)
    except ValueError:
        problems.append(f"date_format {date_format!r} is not a strftime format such as %d/%m/%Y")
    if problems:
        raise MappingError(f"{name}: " + "; ".join(problems) + ".")
    return UsageMapping(
        columns=dict(columns),
        defaults=defaults,
        source=source,
        delimiter=delimiter,
        date_format=date_format,
        encoding=str(data.get("encoding", "utf-8-sig")),
        name=name,
        require_all_columns=bool(data.get("require_all_columns", True)),
    )
