"""Who changed what: every change to billing data leaves a row here."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlmodel import Session

from models.system import AuditLog


def _plain(value: Any) -> Any:
    """JSON-safe, lossless for our types (Decimal and dates become strings, never floats)."""
    if value is None or isinstance(value, bool | int | str):
        return value
    return str(value)


def changes_between(
    before: Mapping[str, Any], after: Mapping[str, Any], fields: Iterable[str]
) -> dict[str, list[Any]]:
    return {f: [_plain(before.get(f)), _plain(after.get(f))] for f in fields if before.get(f) != after.get(f)}


def record(
    db: Session,
    *,
    actor: str,
    entity: str,
    entity_id: object,
    action: str,
    changes: Mapping[str, Any] | None = None,
) -> AuditLog:
    entry = AuditLog(
        actor=actor,
        entity=entity,
        entity_id=str(entity_id),
        action=action,
        changes={k: v if isinstance(v, list) else _plain(v) for k, v in (changes or {}).items()},
    )
    db.add(entry)
    return entry
