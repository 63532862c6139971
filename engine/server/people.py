"""Portal tokens on `/mcp`: the person an access token names, as a `Principal`.

The token is checked by the store (`verify_access_token`: its digest, expiry, revocation, and
that it was issued for this resource, the URL the request names; verified tokens are cached
for at most 0.5 s, so a revocation is seen within 1 s on every process). The person's email
and groups (from their last sign-in) are cached here for `PERSON_TTL_S`: they change only when
the person signs in again.
"""

from __future__ import annotations

import time
from typing import Final

from engine.auth import Principal
from engine.store import Store

PERSON_TTL_S: Final = 5.0
MAX_PEOPLE: Final = 10_000


class TokenPeople:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._people: dict[int, tuple[float, Principal | None]] = {}

    async def principal(self, token: str, resource: str) -> Principal | None:
        """The person of a valid access token for `resource`, or None (unknown, expired,
        revoked, issued for another portal, or a person without an email)."""
        info = await self.store.grants.verify_access_token(token, resource=resource)
        if info is None:
            return None
        now = time.monotonic()
        cached = self._people.get(info.person_id)
        if cached is not None and now - cached[0] < PERSON_TTL_S:
            return cached[1]
        person = await self.store.people.get(info.person_id)
        principal = (
            None
            if person is None or not person.email
            else Principal.person(person.email, person.groups, info.person_id)
        )
        if len(self._people) >= MAX_PEOPLE:
            self._people.clear()
        self._people[info.person_id] = (now, principal)
        return principal
