"""PSA settings from the environment, validated at start-up, and the factory that builds the client.

Kept apart from `handlers.config.Settings` so the Slack app, the CLI and the jobs can all build a PSA
client from the same place, and so a missing PSA variable is reported by name before anything runs.
"""

from __future__ import annotations

import inspect
from typing import Annotated, Any, Literal

from pydantic import SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from integrations.autotask import DEFAULT_COMPANY_TYPES, DEFAULT_ZONE_URL, AutotaskClient
from integrations.base import PsaClient, PsaConfigError
from integrations.connectwise import CONNECTWISE_DEFAULT_TYPES, ConnectWiseClient
from integrations.halopsa import HaloPsaClient

PsaKind = Literal["autotask", "connectwise", "halopsa"]
PSA_KINDS: tuple[str, ...] = ("autotask", "connectwise", "halopsa")

REQUIRED: dict[str, tuple[str, ...]] = {
    "autotask": ("autotask_username", "autotask_secret", "autotask_integration_code"),
    "connectwise": (
        "connectwise_site",
        "connectwise_company_id",
        "connectwise_public_key",
        "connectwise_private_key",
        "connectwise_client_id",
    ),
    "halopsa": ("halopsa_url", "halopsa_client_id", "halopsa_client_secret"),
}

HINTS: dict[str, str] = {
    "REBILL_PSA": "autotask, connectwise or halopsa (leave unset for no PSA)",
    "AUTOTASK_USERNAME": "the API-only user's username (an e-mail address)",
    "AUTOTASK_SECRET": "the API-only user's secret",
    "AUTOTASK_INTEGRATION_CODE": "the API tracking identifier (integration code) of the API user",
    "CONNECTWISE_SITE": "your API host, e.g. api-na.myconnectwise.net (or a full URL)",
    "CONNECTWISE_COMPANY_ID": "the company id you log in with",
    "CONNECTWISE_PUBLIC_KEY": "the API member's public key",
    "CONNECTWISE_PRIVATE_KEY": "the API member's private key",
    "CONNECTWISE_CLIENT_ID": "a clientId GUID from developer.connectwise.com",
    "HALOPSA_URL": "your Halo resource server, e.g. https://acme.halopsa.com",
    "HALOPSA_CLIENT_ID": "the client id of a Client ID and Secret (Services) API application",
    "HALOPSA_CLIENT_SECRET": "that application's client secret",
    "AUTOTASK_COMPANY_TYPES": "comma-separated company type names or numbers, or * for all",
    "CONNECTWISE_COMPANY_TYPES": "comma-separated company type names or ids, or * for all",
    "CONNECTWISE_INACTIVE_STATUSES": "comma-separated company status names or ids",
}

# A comma-separated list in the environment ("Customer, Vendor"), not pydantic-settings' JSON.
NameList = Annotated[tuple[str, ...], NoDecode]


class PsaSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    rebill_psa: PsaKind | None = None
    psa_timeout: float = 30.0

    autotask_username: str | None = None
    autotask_secret: SecretStr | None = None
    autotask_integration_code: SecretStr | None = None
    autotask_base_url: str | None = None
    autotask_zone_url: str = DEFAULT_ZONE_URL
    autotask_company_types: NameList = DEFAULT_COMPANY_TYPES

    connectwise_site: str | None = None
    connectwise_company_id: str | None = None
    connectwise_public_key: str | None = None
    connectwise_private_key: SecretStr | None = None
    connectwise_client_id: str | None = None
    connectwise_company_types: NameList = CONNECTWISE_DEFAULT_TYPES
    connectwise_inactive_statuses: NameList = ()

    halopsa_url: str | None = None
    halopsa_auth_url: str | None = None
    halopsa_tenant: str | None = None
    halopsa_client_id: str | None = None
    halopsa_client_secret: SecretStr | None = None

    @field_validator("rebill_psa", mode="before")
    @classmethod
    def _kind(cls, value: object) -> object:
        if isinstance(value, str):
            value = value.strip().lower()
            return None if value in ("", "none", "off") else value
        return value

    @field_validator(
        "autotask_company_types", "connectwise_company_types", "connectwise_inactive_statuses", mode="before"
    )
    @classmethod
    def _names(cls, value: object) -> object:
        if isinstance(value, str):
            value = value.split(",")
        if isinstance(value, list | tuple):
            return tuple(n for n in (" ".join(str(v).split()) for v in value) if n)
        return value

    @field_validator("autotask_company_types", "connectwise_company_types")
    @classmethod
    def _types_default(cls, value: tuple[str, ...], info: Any) -> tuple[str, ...]:
        """An empty list would import nobody: empty means the default (customers only)."""
        if value:
            return value
        return DEFAULT_COMPANY_TYPES if info.field_name.startswith("autotask") else CONNECTWISE_DEFAULT_TYPES

    @field_validator("autotask_base_url", "halopsa_url", "halopsa_auth_url", "autotask_zone_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        if not value.strip().startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL")
        return value.strip()

    @model_validator(mode="after")
    def _required_for_vendor(self) -> PsaSettings:
        if self.rebill_psa is None:
            return self
        missing = [name.upper() for name in REQUIRED[self.rebill_psa] if not _present(getattr(self, name))]
        if missing:
            raise ValueError(f"REBILL_PSA={self.rebill_psa} needs {', '.join(missing)}")
        if self.autotask_zone_url is None:
            self.autotask_zone_url = DEFAULT_ZONE_URL
        return self


def _present(value: object) -> bool:
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    return value is not None and str(value).strip() != ""


def describe_psa_errors(error: ValidationError) -> str:
    """One line per missing or bad variable, with how to fix it, like `core.config.describe_errors`."""
    lines = ["The PSA integration is not configured correctly:"]
    for item in error.errors():
        msg = str(item["msg"]).removeprefix("Value error, ")
        if item["loc"]:
            name = str(item["loc"][0]).upper()
            lines.append(f"  - {name} {msg}" + (f": {HINTS[name]}" if name in HINTS else ""))
        elif "needs " in msg:
            for name in msg.split("needs ", 1)[1].split(", "):
                lines.append(
                    f"  - {name} is not set" + (f": set it to {HINTS[name]}" if name in HINTS else "")
                )
        else:
            lines.append(f"  - {msg}")
    return "\n".join(lines)


def load_psa_settings(**overrides: Any) -> PsaSettings:
    try:
        return PsaSettings(**overrides)
    except ValidationError as exc:
        raise PsaConfigError(describe_psa_errors(exc)) from None


def _secret(value: SecretStr | None) -> str:
    return value.get_secret_value() if value is not None else ""


def make_client(psa_settings: PsaSettings, **overrides: Any) -> PsaClient | None:
    """The configured vendor's client, or None when no PSA is configured.

    `overrides` go to the client's constructor (e.g. `transport`, `sleep`, `retry`, `timeout`,
    `clock`); one the chosen client does not take is dropped, so callers can pass the same set
    whatever the vendor, but a name no client takes at all is a typo and raises TypeError.
    """
    s = psa_settings
    known = set().union(
        *(
            inspect.signature(c.__init__).parameters
            for c in (AutotaskClient, ConnectWiseClient, HaloPsaClient)
        )
    )
    unknown = set(overrides) - known
    if unknown:
        raise TypeError(f"make_client() got unknown overrides: {', '.join(sorted(unknown))}")
    overrides.setdefault("timeout", s.psa_timeout)

    def build(cls: Any, **kwargs: Any) -> Any:
        accepted = inspect.signature(cls.__init__).parameters
        return cls(**kwargs, **{k: v for k, v in overrides.items() if k in accepted and k not in kwargs})

    if s.rebill_psa == "autotask":
        return build(
            AutotaskClient,
            username=s.autotask_username or "",
            secret=_secret(s.autotask_secret),
            integration_code=_secret(s.autotask_integration_code),
            base_url=overrides.pop("base_url", None) or s.autotask_base_url,
            zone_url=s.autotask_zone_url or DEFAULT_ZONE_URL,
            company_types=s.autotask_company_types,
        )
    if s.rebill_psa == "connectwise":
        return build(
            ConnectWiseClient,
            site=s.connectwise_site or "",
            company_id=s.connectwise_company_id or "",
            public_key=s.connectwise_public_key or "",
            private_key=_secret(s.connectwise_private_key),
            client_id=s.connectwise_client_id or "",
            company_types=s.connectwise_company_types,
            inactive_statuses=s.connectwise_inactive_statuses,
        )
    if s.rebill_psa == "halopsa":
        return build(
            HaloPsaClient,
            url=s.halopsa_url or "",
            client_id=s.halopsa_client_id or "",
            client_secret=_secret(s.halopsa_client_secret),
            auth_url=s.halopsa_auth_url,
            tenant=s.halopsa_tenant or None,
        )
    return None
