"""Xero connection settings and the token exchanges with Xero's identity server.

Token exchanges go through authlib's OAuth2 client (its httpx integration): client credentials for
a custom connection, authorisation code with PKCE (S256) for a standard app, and the refresh grant.
authlib's own auto-refresh is not used for API calls, because it keeps the token in process memory:
with several replicas, two of them would spend the same single-use refresh token and the loser
would be locked out. Where tokens are kept, and how each refresh token is spent once across
replicas, is `core.xero_tokens` (the database row, renewed under its lock); the API client only
sees a `TokenSource`.
"""

from __future__ import annotations

import threading
import warnings
from dataclasses import dataclass
from datetime import datetime
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any, Literal, Protocol
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

from core.errors import RebillError

SCOPES = "accounting.transactions accounting.contacts accounting.settings.read"


class XeroError(RebillError):
    """Xero refused or failed something; the message says what to do."""


class XeroAuthError(XeroError):
    """The token can't be had: not connected, bad credentials, refresh token refused."""


class TokenRefused(XeroAuthError):
    """Xero refused the stored refresh token (`error`: e.g. invalid_grant): a person must reconnect."""

    def __init__(self, error: str) -> None:
        self.error = error
        super().__init__(f"Xero refused the stored refresh token ({error}).")


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


class TokenSource(Protocol):
    """Where the API client gets its token: a usable one, or a new one after Xero said 401."""

    def current(self) -> Token: ...

    def renew_after_refusal(self, refused: str) -> Token: ...


def client_credentials(config: XeroConfig) -> dict[str, Any]:
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


def refresh(config: XeroConfig, refresh_token: str) -> dict[str, Any]:
    """Spend a refresh token; TokenRefused when Xero says it is no longer good."""
    try:
        with config.oauth() as oauth:
            return dict(oauth.refresh_token(config.token_url, refresh_token=refresh_token))
    except OAuthError as exc:
        raise TokenRefused(str(exc.error)) from None
    except httpx.HTTPError as exc:
        raise XeroError(
            f"Xero's token server could not be reached ({type(exc).__name__}); try again later."
        ) from None


def tenant_of(config: XeroConfig, access_token: str) -> tuple[str, str | None]:
    """(tenant id, name) of the organisation this token reaches (a custom connection has exactly one)."""
    response = httpx.get(
        config.connections_url,
        headers={"Authorization": f"Bearer {access_token}"},
        timeout=config.timeout,
    )
    if response.status_code != 200:
        raise XeroError(f"Xero's connections list answered HTTP {response.status_code}; try again later.")
    tenants = [t for t in response.json() if t.get("tenantType") == "ORGANISATION"]
    if not tenants:
        raise XeroAuthError("This Xero connection reaches no organisation: authorise one in Xero.")
    return tenants[0]["tenantId"], tenants[0].get("tenantName")


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


def exchange_code(config: XeroConfig, auth: Authorization, callback_url: str) -> dict[str, Any]:
    """Swap the code in `callback_url` (Xero's redirect after consent) for tokens."""
    query = parse_qs(urlparse(callback_url).query)
    if query.get("state", [""])[0] != auth.state:
        raise XeroAuthError(
            "The Xero sign-in came back with the wrong state: start `rebill-bot xero connect` again."
        )
    if "error" in query:
        raise XeroAuthError(f"Xero sign-in was not completed: {query['error'][0]}.")
    try:
        with config.oauth() as oauth:
            return dict(
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
