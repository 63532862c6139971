"""Identity and access in the config: `[identity]` (sign-in through an OpenID Connect
provider) and `[[policies]]` (who may see a portal or a server). `engine.auth` evaluates them."""

from __future__ import annotations

import re
from typing import Any, Literal, Self
from urllib.parse import urlsplit

from pydantic import Field, ValidationInfo, field_validator, model_validator

from engine.config_base import (
    ENV_NAME,
    ID_PATTERN,
    StrictModel,
    resolve_path,
    url_problem,
)
from engine.config_errors import Problems

SELECTOR_KEYS = ("email", "email_domain", "group", "everyone", "service")
_LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
_DOMAIN = re.compile(
    r"^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$"
)


class IdentityConfig(StrictModel):
    """Sign-in of people through an OpenID Connect provider. Absent: no sign-in."""

    provider: Literal["oidc", "dev"] = "oidc"
    """`oidc`: the provider at `issuer`; `dev`: built-in development sign-in (any email, no
    password), refused at serve time unless the portal listens on loopback only."""
    issuer: str | None = None
    """The provider's issuer URL (discovery: issuer + /.well-known/openid-configuration)."""
    client_id: str | None = None
    """The portal's client id at the provider."""
    client_secret_env: str | None = None
    """Name of the environment variable holding the client secret (never the secret)."""
    client_secret_file: str | None = None
    """Path of a file holding the client secret."""
    scopes: list[str] = Field(default_factory=lambda: ["openid", "email", "profile"])
    """Scopes asked for at sign-in; group rules need the provider's groups scope."""
    groups_claim: str = Field(default="groups", min_length=1)
    """The ID-token or userinfo claim listing the person's groups."""
    no_access_message: str = Field(
        default="That account does not have access to this portal.", min_length=1, max_length=500
    )
    """What a person whom the portal's policies keep out reads on the "no access" page."""

    @field_validator("client_secret_file")
    @classmethod
    def _relative_to_config(cls, value: str | None, info: ValidationInfo) -> str | None:
        return resolve_path(value, info)

    @model_validator(mode="after")
    def _check(self) -> Self:
        refs = [
            k
            for k in ("issuer", "client_id", "client_secret_env", "client_secret_file")
            if getattr(self, k) is not None
        ]
        if self.provider == "dev":
            problems = [
                (k, 'provider = "dev" signs people in without an identity provider: remove it')
                for k in refs
            ]
            if problems:
                raise Problems(problems)
            return self
        problems = [
            (k, 'required key is missing (or set provider = "dev" to try sign-in locally)')
            for k in ("issuer", "client_id")
            if getattr(self, k) is None
        ]
        if self.issuer is not None:
            parts = urlsplit(self.issuer)
            local = parts.hostname in _LOOPBACK_HOSTS
            if url_problem(self.issuer) or not (
                parts.scheme == "https" or (parts.scheme == "http" and local)
            ):
                problems.append(("issuer", "must be an https:// URL (http:// only for localhost)"))
            elif parts.query or parts.fragment:
                problems.append(("issuer", "must have no query or fragment"))
        secrets = [k for k in ("client_secret_env", "client_secret_file") if k in refs]
        if len(secrets) != 1:
            problems.append(
                (
                    "",
                    "set exactly one of client_secret_env (an environment variable name) or "
                    "client_secret_file (a file path)"
                    + ("; both are set" if secrets else "; neither is set"),
                )
            )
        elif self.client_secret_env is not None and not ENV_NAME.match(self.client_secret_env):
            problems.append(
                (
                    "client_secret_env",
                    "must be the NAME of an environment variable (letters, digits, _), "
                    "not the secret itself",
                )
            )
        if "openid" not in self.scopes:
            problems.append(("scopes", 'must include "openid"'))
        if problems:
            raise Problems(problems)
        return self


class Selector(StrictModel):
    """One rule of a policy: exactly one of its keys."""

    email: str | None = None
    """A person's email address (compared case-insensitively)."""
    email_domain: str | None = None
    """The domain of a person's email, e.g. example.com (exact, case-insensitive)."""
    group: str | None = Field(default=None, min_length=1)
    """A group in the person's groups claim (exact)."""
    everyone: Literal[True] | None = None
    """`everyone = true`: every signed-in person and every API key (never an anonymous caller)."""
    service: str | None = Field(default=None, min_length=1)
    """The name of an API key (`key:<first 8 hex digits>` for an unnamed one)."""

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is not None and not _EMAIL.match(value):
            raise ValueError("must be an email address such as ana@example.com")
        return value

    @field_validator("email_domain")
    @classmethod
    def _domain(cls, value: str | None) -> str | None:
        if value is not None and not _DOMAIN.match(value):
            raise ValueError(
                "must be a domain such as example.com (no @, no scheme; subdomains are not "
                "included: list each one)"
            )
        return value

    @field_validator("everyone", mode="before")
    @classmethod
    def _everyone(cls, value: Any) -> Any:
        if value is not True:
            raise ValueError("can only be true; to match nobody, remove the selector")
        return value

    @model_validator(mode="after")
    def _one_key(self) -> Self:
        given = [k for k in SELECTOR_KEYS if getattr(self, k) is not None]
        if len(given) != 1:
            what = "none" if not given else " and ".join(given)
            raise ValueError(
                f"a selector has exactly one of {', '.join(SELECTOR_KEYS)}; this one has {what}"
            )
        return self

    @property
    def key(self) -> str:
        return next(k for k in SELECTOR_KEYS if getattr(self, k) is not None)


class PolicyConfig(StrictModel):
    """An access policy: who it matches and whether that allows or blocks them."""

    id: str = Field(max_length=64, pattern=ID_PATTERN)
    """Referenced from `policies = [...]` of portals and servers."""
    decision: Literal["allow", "block"]
    """`allow` lets matching callers in; `block` keeps them out and wins over any allow."""
    include: list[Selector]
    """The policy matches a caller who matches any of these..."""
    exclude: list[Selector] = Field(default_factory=list)
    """...and none of these..."""
    require: list[Selector] = Field(default_factory=list)
    """...and all of these."""

    @field_validator("include")
    @classmethod
    def _not_empty(cls, value: list[Selector]) -> list[Selector]:
        if not value:
            raise ValueError(
                "a policy includes someone: add at least one selector, e.g. "
                '{ email_domain = "example.com" } or { everyone = true }'
            )
        return value
