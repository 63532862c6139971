"""`Principal`: who is calling. A person (signed in through `[identity]`), a service (an API
key, by its name), or nobody in particular (an open portal's anonymous caller)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

PrincipalKind = Literal["person", "service", "anonymous"]


@dataclass(frozen=True)
class Principal:
    kind: PrincipalKind
    email: str | None = None
    """A person's email address, as the identity provider gave it."""
    groups: frozenset[str] = field(default_factory=frozenset)
    """A person's groups (the `groups_claim` of `[identity]`)."""
    service: str | None = None
    """A service's name: its API key's `name`, or `key:<first 8 hex digits>` when unnamed."""
    person_id: int | None = None
    """A signed-in person's id in the store (their upstream connections are kept under it)."""

    @classmethod
    def person(
        cls, email: str, groups: Iterable[str] = (), person_id: int | None = None
    ) -> Principal:
        if not email:
            raise ValueError("a person is known by an email address")
        return cls("person", email=email, groups=frozenset(groups), person_id=person_id)

    @classmethod
    def for_service(cls, name: str) -> Principal:
        if not name:
            raise ValueError("a service is known by its API key's name")
        return cls("service", service=name)

    @property
    def authenticated(self) -> bool:
        return self.kind != "anonymous"

    @property
    def user(self) -> str | None:
        """The request log's `user`: the email of a person, the name of a service."""
        return self.email if self.kind == "person" else self.service

    def describe(self) -> str:
        """How messages name the caller."""
        if self.kind == "person":
            return f"{self.email}"
        if self.kind == "service":
            return f"API key {self.service!r}"
        return "an anonymous caller"


ANONYMOUS = Principal("anonymous")
"""The caller of a portal that asks for no credentials."""
