"""Xero connection settings and tokens, stored in the database and renewed under a row lock.

Token exchanges go through authlib's OAuth2 client (its httpx integration): client credentials for
a custom connection, authorisation code with PKCE (S256) for a standard app, and the refresh grant.
authlib's own auto-refresh is not used for API calls, because it keeps the token in process memory:
with several replicas, two of them would spend the same single-use refresh token and the loser
would be locked out. Instead:

Concurrency
    The token lives in the one `xero_connection` row. A caller whose access token is about to
    expire locks that row (SELECT ... FOR UPDATE on PostgreSQL; SQLite serialises writers with
    BEGIN IMMEDIATE), looks again (another replica may have just refreshed), and only then spends
    the refresh token, storing the new pair before the lock is released. So each refresh token is
    used once, whichever replica gets there first. A refusal (`invalid_grant`: expired after ~60
    days unused, or revoked) is stored on the row and reported; nothing retries it in a loop.
"""

from __future__ import annotations

import threading
import warnings
from dataclasses import dataclass
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any, Literal
from urllib.parse import parse_qs, urlparse

import httpx

with warnings.catch_warnings():
    # authlib >= 1.9 warns on import that its httpx integration will move to "httpx2"; the
    # integration works as documented, and the warning would be the first line of every start-up.
    # authlib.deprecate installs an "always" filter for its own warning class on import: import it
    # first, then put ours in front of it.
    import authlib.deprecate  # noqa: F401

    warnings.simplefilter("ignore", DeprecationWarning)
    from authlib.common.security import generate_token
    from authlib.integrations.base_client.errors import OAuthError
    from authlib.integrations.httpx_client import OAuth2Client
from pydantic import SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine
from sqlmodel import Session

from core.clock import Clock
from core.db import session_scope
from core.errors import RebillError
from models.types import utcnow
from models.xero import XeroConnection

SCOPES = "accounting.transactions accounting.contacts accounting.settings.read"
EARLY = timedelta(seconds=60)  # renew this long before expiry, so a call never carries a dying token
CONNECTION_ID = 1


class XeroError(RebillError):
    """Xero refused or failed something; the message says what to do."""


class XeroAuthError(XeroError):
    """The token can't be had: not connected, bad credentials, refresh token refused."""


class XeroEnv(BaseSettings):
    """The Xero variables. A class of its own so Xero commands need no Slack secrets."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    xero_client_id: str | None = None
    xero_client_secret: SecretStr | None = None
    xero_connection: Literal["custom", "standard"] = "custom"
    xero_redirect_uri: str = "http://localhost:8765/callback"
    xero_identity_url: str = "https://identity.xero.com"
    xero_authorize_url: str = "https://login.xero.com/identity/connect/authorize"
    xero_api_url: str = "https://api.xero.com/api.xro/2.0"
    xero_connections_url: str = "https://api.xero.com/connections"
    xero_timeout: float = 30.0


@dataclass(frozen=True)
class XeroConfig:
    client_id: str
    client_secret: str | None
    kind: Literal["custom", "standard"]
    redirect_uri: str = "http://localhost:8765/callback"
    identity_url: str = "https://identity.xero.com"
    authorize_url: str = "https://login.xero.com/identity/connect/authorize"
    api_url: str = "https://api.xero.com/api.xro/2.0"
    connections_url: str = "https://api.xero.com/connections"
    timeout: float = 30.0

    @property
    def token_url(self) -> str:
        return self.identity_url.rstrip("/") + "/connect/token"

    @property
    def scopes(self) -> str:
        return SCOPES if self.kind == "custom" else "offline_access " + SCOPES

    def oauth(self) -> OAuth2Client:
        return OAuth2Client(
            client_id=self.client_id,
            client_secret=self.client_secret,
            scope=self.scopes,
            redirect_uri=self.redirect_uri,
            code_challenge_method="S256",
            token_endpoint_auth_method="client_secret_basic" if self.client_secret else "none",
            timeout=self.timeout,
        )


def load_xero_config(**overrides: Any) -> XeroConfig | None:
    """The configured Xero app, or None when XERO_CLIENT_ID is unset (Xero not used)."""
    try:
        env = XeroEnv(**overrides)
    except ValidationError as exc:
        names = ", ".join(str(e["loc"][0]).upper() for e in exc.errors())
        raise XeroAuthError(f"Xero settings are not valid: check {names} (see README, Xero).") from None
    if not env.xero_client_id:
        return None
    secret = env.xero_client_secret.get_secret_value() if env.xero_client_secret else None
    if env.xero_connection == "custom" and not secret:
        raise XeroAuthError(
            "XERO_CLIENT_SECRET is not set: a custom connection needs the app's client secret."
        )
    return XeroConfig(
        client_id=env.xero_client_id,
        client_secret=secret,
        kind=env.xero_connection,
        redirect_uri=env.xero_redirect_uri,
        identity_url=env.xero_identity_url,
        authorize_url=env.xero_authorize_url,
        api_url=env.xero_api_url,
        connections_url=env.xero_connections_url,
        timeout=env.xero_timeout,
    )


@dataclass(frozen=True)
class Token:
    access_token: str
    tenant_id: str


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
            token = _client_credentials(config)
            row.kind = "custom"
        else:
            if row.kind != "standard" or not row.refresh_token:
                raise XeroAuthError(
                    "Xero is not connected: run `rebill-bot xero connect` (see README, Xero)."
                )
            try:
                with config.oauth() as oauth:
                    token = oauth.refresh_token(config.token_url, refresh_token=row.refresh_token)
            except OAuthError as exc:
                row.token_error = (
                    f"Xero refused the stored refresh token ({exc.error}): it expired (unused for about 60 days) "
                    "or was revoked. Run `rebill-bot xero connect` again."
                )
                row.access_token = None
                row.updated_at = clock.now()
                db.add(row)
                db.commit()
                raise XeroAuthError(row.token_error) from None
            except httpx.HTTPError as exc:
                raise XeroError(
                    f"Xero's token server could not be reached ({type(exc).__name__}); try again later."
                ) from None
        _store(row, token, clock)
        if not row.tenant_id:
            _attach_tenant(row, config)
        db.add(row)
        assert row.access_token is not None and row.tenant_id is not None
        return Token(row.access_token, row.tenant_id)


def _client_credentials(config: XeroConfig) -> dict[str, Any]:
    try:
        with config.oauth() as oauth:
            return dict(oauth.fetch_token(config.token_url, grant_type="client_credentials"))
    except OAuthError as exc:
        raise XeroAuthError(
            f"Xero refused the custom connection's credentials ({exc.error}): check XERO_CLIENT_ID and "
            "XERO_CLIENT_SECRET, and that the custom connection is authorised in Xero."
        ) from None
    except httpx.HTTPError as exc:
        raise XeroError(
            f"Xero's token server could not be reached ({type(exc).__name__}); try again later."
        ) from None


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
    """The organisation this token reaches (a custom connection has exactly one)."""
    response = httpx.get(
        config.connections_url,
        headers={"Authorization": f"Bearer {row.access_token}"},
        timeout=config.timeout,
    )
    if response.status_code != 200:
        raise XeroError(f"Xero's connections list answered HTTP {response.status_code}; try again later.")
    tenants = [t for t in response.json() if t.get("tenantType") == "ORGANISATION"]
    if not tenants:
        raise XeroAuthError("This Xero connection reaches no organisation: authorise one in Xero.")
    row.tenant_id = tenants[0]["tenantId"]
    row.tenant_name = tenants[0].get("tenantName")


# Standard app: `rebill-bot xero connect`


@dataclass(frozen=True)
class Authorization:
    url: str
    state: str
    verifier: str


def begin_authorization(config: XeroConfig) -> Authorization:
    """The consent URL (with a PKCE S256 challenge) and what is needed to finish afterwards."""
    verifier = generate_token(64)
    with config.oauth() as oauth:
        url, state = oauth.create_authorization_url(config.authorize_url, code_verifier=verifier)
    return Authorization(url=url, state=state, verifier=verifier)


def finish_authorization(
    engine: Engine, config: XeroConfig, auth: Authorization, callback_url: str, *, clock: Clock
) -> XeroConnection:
    """Swap the code in `callback_url` for tokens and store them (replacing any earlier connection)."""
    query = parse_qs(urlparse(callback_url).query)
    if query.get("state", [""])[0] != auth.state:
        raise XeroAuthError(
            "The Xero sign-in came back with the wrong state: start `rebill-bot xero connect` again."
        )
    if "error" in query:
        raise XeroAuthError(f"Xero sign-in was not completed: {query['error'][0]}.")
    try:
        with config.oauth() as oauth:
            token = dict(
                oauth.fetch_token(
                    config.token_url,
                    authorization_response=callback_url,
                    code_verifier=auth.verifier,
                    state=auth.state,
                )
            )
    except OAuthError as exc:
        raise XeroAuthError(
            f"Xero refused the sign-in code ({exc.error}): run `rebill-bot xero connect` again."
        ) from None
    with session_scope(engine) as db:
        row = lock_connection(db, kind="standard")
        row.kind = "standard"
        row.tenant_id = None
        _store(row, token, clock)
        _attach_tenant(row, config)
        db.add(row)
    return row


def wait_for_callback(
    redirect_uri: str, *, timeout: float = 300.0, ready: threading.Event | None = None
) -> str:
    """Serve the redirect URI on localhost until Xero's redirect arrives; the full callback URL."""
    parsed = urlparse(redirect_uri)
    got: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            if urlparse(self.path).path != parsed.path:
                self.send_response(404)
                self.end_headers()
                return
            got.append(f"{parsed.scheme}://{parsed.netloc}{self.path}")
            body = b"rebill-bot is connected to Xero. You can close this tab."
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = HTTPServer((parsed.hostname or "localhost", parsed.port or 80), Handler)
    server.timeout = 1.0
    if ready is not None:
        ready.set()
    deadline = datetime.now().timestamp() + timeout
    try:
        while not got and datetime.now().timestamp() < deadline:
            server.handle_request()
    finally:
        server.server_close()
    if not got:
        raise XeroAuthError(
            f"No answer from Xero within {timeout:.0f} s: run `rebill-bot xero connect` again."
        )
    return got[0]


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
