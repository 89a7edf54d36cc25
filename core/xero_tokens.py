"""Xero tokens kept in the database, renewed under a row lock, so replicas share one connection.

Concurrency
    The token lives in the one `xero_connection` row. A caller whose access token is about to
    expire locks that row (SELECT ... FOR UPDATE on PostgreSQL; SQLite serialises writers with
    BEGIN IMMEDIATE), looks again (another replica may have just refreshed), and only then spends
    the refresh token, storing the new pair before the lock is released. So each refresh token is
    used once, whichever replica gets there first. A refusal (`invalid_grant`: expired after ~60
    days unused, or revoked) is stored on the row and reported; nothing retries it in a loop.

The exchanges themselves (client credentials, refresh, sign-in code) are `integrations.xero_auth`;
`core.xero_api.xero_client` builds the API client over these tokens and the shared call budget.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine
from sqlmodel import Session

from core.clock import Clock
from core.db import session_scope
from integrations.xero_auth import (
    Authorization,
    Token,
    TokenRefused,
    XeroAuthError,
    XeroConfig,
    client_credentials,
    exchange_code,
    refresh,
    tenant_of,
)
from models.types import utcnow
from models.xero import XeroConnection

EARLY = timedelta(seconds=60)  # renew this long before expiry, so a call never carries a dying token
CONNECTION_ID = 1


def load_connection(db: Session, *, lock: bool = False) -> XeroConnection | None:
    query = select(XeroConnection).where(XeroConnection.id == CONNECTION_ID)
    if lock:
        query = query.with_for_update()
    return db.execute(query.execution_options(populate_existing=True)).scalars().first()


def lock_connection(db: Session, *, kind: str) -> XeroConnection:
    """The connection row, locked for this transaction; created first if missing.

    Created with INSERT ... ON CONFLICT DO NOTHING, because SELECT ... FOR UPDATE locks nothing
    when there is no row yet: replicas starting together would all try to insert it.
    """
    insert = pg_insert if db.get_bind().dialect.name == "postgresql" else sqlite_insert
    db.execute(
        insert(XeroConnection)
        .values(id=CONNECTION_ID, kind=kind, updated_at=utcnow())
        .on_conflict_do_nothing(index_elements=["id"])
    )
    row = load_connection(db, lock=True)
    assert row is not None
    return row


def current_token(engine: Engine, config: XeroConfig, *, clock: Clock) -> Token:
    """A usable access token and the tenant id, renewing (once, under the row lock) if needed."""
    with session_scope(engine) as db:
        row = load_connection(db)
        if row is not None and _usable(row, clock) and row.tenant_id:
            assert row.access_token is not None
            return Token(row.access_token, row.tenant_id)
    return _renew(engine, config, clock=clock, spent=None)


def renew_after_refusal(engine: Engine, config: XeroConfig, *, clock: Clock, refused: str) -> Token:
    """Xero said 401 to `refused`: renew unless another caller already replaced it."""
    return _renew(engine, config, clock=clock, spent=refused)


@dataclass(frozen=True)
class StoredTokens:
    """The API client's `TokenSource`: the tokens in the database row."""

    engine: Engine
    config: XeroConfig
    clock: Clock

    def current(self) -> Token:
        return current_token(self.engine, self.config, clock=self.clock)

    def renew_after_refusal(self, refused: str) -> Token:
        return renew_after_refusal(self.engine, self.config, clock=self.clock, refused=refused)


def _usable(row: XeroConnection, clock: Clock) -> bool:
    return (
        row.token_error is None
        and row.access_token is not None
        and row.access_expires_at is not None
        and row.access_expires_at > clock.now() + EARLY
    )


def _renew(engine: Engine, config: XeroConfig, *, clock: Clock, spent: str | None) -> Token:
    with session_scope(engine) as db:
        row = lock_connection(db, kind=config.kind)
        if row.token_error is not None:
            raise XeroAuthError(row.token_error)
        if _usable(row, clock) and row.access_token != spent and row.tenant_id:
            assert row.access_token is not None
            return Token(row.access_token, row.tenant_id)  # another caller renewed it meanwhile
        if config.kind == "custom":
            token = client_credentials(config)
            row.kind = "custom"
        else:
            if row.kind != "standard" or not row.refresh_token:
                raise XeroAuthError(
                    "Xero is not connected: run `rebill-bot xero connect` (see README, Xero)."
                )
            try:
                token = refresh(config, row.refresh_token)
            except TokenRefused as exc:
                row.token_error = (
                    f"Xero refused the stored refresh token ({exc.error}): it expired (unused for about 60 days) "
                    "or was revoked. Run `rebill-bot xero connect` again."
                )
                row.access_token = None
                row.updated_at = clock.now()
                db.add(row)
                db.commit()
                raise XeroAuthError(row.token_error) from None
        _store(row, token, clock)
        if not row.tenant_id:
            _attach_tenant(row, config)
        db.add(row)
        assert row.access_token is not None and row.tenant_id is not None
        return Token(row.access_token, row.tenant_id)


def _store(row: XeroConnection, token: dict[str, Any], clock: Clock) -> None:
    now = clock.now()
    row.access_token = token["access_token"]
    row.access_expires_at = now + timedelta(seconds=int(token.get("expires_in", 1800)))
    if token.get("refresh_token"):
        row.refresh_token = token["refresh_token"]
    row.refreshed_at = now
    row.token_error = None
    row.updated_at = now


def _attach_tenant(row: XeroConnection, config: XeroConfig) -> None:
    assert row.access_token is not None
    row.tenant_id, row.tenant_name = tenant_of(config, row.access_token)


def finish_authorization(
    engine: Engine, config: XeroConfig, auth: Authorization, callback_url: str, *, clock: Clock
) -> XeroConnection:
    """Swap the code in `callback_url` for tokens and store them (replacing any earlier connection)."""
    token = exchange_code(config, auth, callback_url)
    with session_scope(engine) as db:
        row = lock_connection(db, kind="standard")
        row.kind = "standard"
        row.tenant_id = None
        _store(row, token, clock)
        _attach_tenant(row, config)
        db.add(row)
    return row


def token_state(engine: Engine, config: XeroConfig | None, *, clock: Clock) -> str:
    """One line for `check`: connected or not, and why."""
    if config is None:
        return "not configured (XERO_CLIENT_ID unset)"
    with session_scope(engine) as db:
        row = load_connection(db)
    if row is None:
        return (
            "custom connection, no token yet"
            if config.kind == "custom"
            else "not connected (run `rebill-bot xero connect`)"
        )
    if row.token_error:
        return f"refused: {row.token_error}"
    if config.kind == "standard" and not row.refresh_token:
        return "not connected (run `rebill-bot xero connect`)"
    if _usable(row, clock):
        assert row.access_expires_at is not None
        minutes = int((row.access_expires_at - clock.now()).total_seconds() // 60)
        return f"{row.kind} connection, access token valid for {minutes} more minute(s)"
    return f"{row.kind} connection, access token expired (renewed on next use)"
