"""Portals and servers kept in the store (`[admin] config = "store"`), and the audit log of
every change to them.

Each object is one row of `config_objects`: its config entry as JSON (exactly what a
`[[servers]]` or `[[portals]]` table of the config file holds; never a secret), its secrets
(`engine.credentials.StoredCredentials`) AES-GCM encrypted with the object's kind and id as
associated data, and who created and last changed it (an admin token's name, or `seed` /
`import`).

Writes replace the whole set in one transaction (`replacing`): rows that changed are
updated, new ones inserted, missing ones deleted, and one `config_audit` row per object
records who, when and which fields changed (secret fields only as `"<set>"`). The caller
applies the new config inside that block, so a failed apply rolls the write back.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from engine.credentials import StoredCredentials
from engine.store.changes import announce
from engine.store.db import now_utc, read, write
from engine.store.schema import config_audit, config_objects
from engine.store.secrets import Cipher

Kind = Literal["server", "portal"]
SECRET_MARK = "<set>"
"""How a secret shows in the audit log: set or not, never its value."""
DEFAULT_AUDIT_LIMIT = 100


@dataclass(frozen=True)
class Stamp:
    created_at: datetime
    created_by: str
    modified_at: datetime
    modified_by: str


@dataclass(frozen=True)
class StoredObject:
    kind: Kind
    id: str
    body: dict[str, Any]
    secrets: StoredCredentials | None = None
    stamp: Stamp | None = None


@dataclass(frozen=True)
class AuditEntry:
    at: datetime
    by: str
    action: str
    kind: str
    object_id: str
    changes: dict[str, Any]


def _secret_view(secrets: StoredCredentials | None) -> dict[str, str | None]:
    """What the audit log may say of secrets: which are set."""
    s = secrets or StoredCredentials()
    return {
        "auth_credentials": SECRET_MARK if s.has_auth_credentials else None,
        "client_secret": SECRET_MARK if s.client_secret is not None else None,
    }


def _changes(before: StoredObject | None, after: StoredObject | None) -> dict[str, dict[str, Any]]:
    old = {**(before.body if before else {}), **(_secret_view(before.secrets) if before else {})}
    new = {**(after.body if after else {}), **(_secret_view(after.secrets) if after else {})}
    out: dict[str, dict[str, Any]] = {}
    for key in sorted(set(old) | set(new)):
        if old.get(key) != new.get(key):
            out[key] = {"before": old.get(key), "after": new.get(key)}
    # A secret replaced by another shows as a change although both are "<set>".
    if before and after and before.secrets != after.secrets:
        for key in ("auth_credentials", "client_secret"):
            out.setdefault(key, {"before": SECRET_MARK, "after": SECRET_MARK, "replaced": True})
    return out


class ConfigStore:
    """The stored portals and servers (table `config_objects`) and their audit log."""

    def __init__(
        self, engine: AsyncEngine, cipher: Cipher, *, clock: Callable[[], datetime] = now_utc
    ) -> None:
        self._engine = engine
        self._cipher = cipher
        self._now = clock

    def __repr__(self) -> str:
        return f"ConfigStore({self._engine.url.render_as_string(hide_password=True)})"

    def _ad(self, kind: str, object_id: str) -> str:
        return f"config_objects.secrets:{kind}:{object_id}"

    def _object(self, row: Any) -> StoredObject:
        secrets = None
        if row.secrets_enc is not None:
            text = self._cipher.decrypt_text(row.secrets_enc, self._ad(row.kind, row.id))
            secrets = StoredCredentials.from_json(text)
        stamp = Stamp(row.created_at, row.created_by, row.modified_at, row.modified_by)
        kind: Kind = "portal" if row.kind == "portal" else "server"
        return StoredObject(kind, row.id, json.loads(row.body_json), secrets, stamp)

    async def seeded(self) -> bool:
        """Whether the store has ever held a configuration (an empty one included)."""
        async with read(self._engine) as conn:
            row = (await conn.execute(select(config_audit.c.id).limit(1))).first()
            return row is not None

    async def load(self) -> list[StoredObject]:
        """Every stored object, servers then portals, each in config order."""
        async with read(self._engine) as conn:
            return await self._load(conn)

    async def _load(self, conn: AsyncConnection) -> list[StoredObject]:
        rows = await conn.execute(
            select(config_objects).order_by(config_objects.c.kind.desc(), config_objects.c.position)
        )
        return [self._object(row) for row in rows]

    async def stamps(self) -> dict[tuple[str, str], Stamp]:
        """Who created and last changed each object, by (kind, id)."""
        c = config_objects.c
        query = select(c.kind, c.id, c.created_at, c.created_by, c.modified_at, c.modified_by)
        async with read(self._engine) as conn:
            rows = await conn.execute(query)
            return {
                (r.kind, r.id): Stamp(r.created_at, r.created_by, r.modified_at, r.modified_by)
                for r in rows
            }

    @asynccontextmanager
    async def replacing(
        self, objects: Sequence[StoredObject], *, by: str, action: str | None = None
    ) -> AsyncIterator[list[AuditEntry]]:
        """Make `objects` the whole stored set, in one transaction that commits when the
        block ends and rolls back if it raises. Yields the audit entries written (one per
        object created, changed or deleted; `action` names them all, e.g. `seed`, else
        create/update/delete); a write that changes nothing still records one entry."""
        now = self._now()
        async with write(self._engine) as conn:
            current = {(o.kind, o.id): o for o in await self._load(conn)}
            wanted = {(o.kind, o.id): o for o in objects}
            entries: list[AuditEntry] = []
            for key in current.keys() - wanted.keys():
                await conn.execute(
                    delete(config_objects).where(
                        config_objects.c.kind == key[0], config_objects.c.id == key[1]
                    )
                )
                entries.append(self._entry(now, by, action or "delete", current[key], None))
            positions: dict[str, int] = {}
            for obj in objects:
                position = positions[obj.kind] = positions.get(obj.kind, -1) + 1
                before = current.get((obj.kind, obj.id))
                await self._put(conn, obj, before, position, now, by)
                if before is None or before.body != obj.body or before.secrets != obj.secrets:
                    verb = "create" if before is None else "update"
                    entries.append(self._entry(now, by, action or verb, before, obj))
            if not entries:
                entries.append(AuditEntry(now, by, action or "unchanged", "config", "", {}))
            await conn.execute(insert(config_audit), [self._audit_row(e) for e in entries])
            await announce(conn)  # delivered at commit, to every replica (engine.store.changes)
            yield entries

    async def _put(
        self,
        conn: AsyncConnection,
        obj: StoredObject,
        before: StoredObject | None,
        position: int,
        now: datetime,
        by: str,
    ) -> None:
        secrets_enc = (
            None
            if obj.secrets is None
            else self._cipher.encrypt(obj.secrets.to_json(), self._ad(obj.kind, obj.id))
        )
        values: dict[str, Any] = {"position": position}
        changed = before is None or before.body != obj.body or before.secrets != obj.secrets
        if changed:
            values |= {
                "body_json": json.dumps(obj.body, sort_keys=True),
                "secrets_enc": secrets_enc,
                "modified_at": now,
                "modified_by": by,
            }
        if before is None:
            values |= {"kind": obj.kind, "id": obj.id, "created_at": now, "created_by": by}
            await conn.execute(insert(config_objects).values(values))
            return
        await conn.execute(
            update(config_objects)
            .where(config_objects.c.kind == obj.kind, config_objects.c.id == obj.id)
            .values(values)
        )

    def _entry(
        self,
        now: datetime,
        by: str,
        action: str,
        before: StoredObject | None,
        after: StoredObject | None,
    ) -> AuditEntry:
        some = after or before
        assert some is not None
        return AuditEntry(now, by, action, some.kind, some.id, _changes(before, after))

    def _audit_row(self, entry: AuditEntry) -> dict[str, Any]:
        return {
            "at": entry.at,
            "by": entry.by,
            "action": entry.action,
            "kind": entry.kind,
            "object_id": entry.object_id,
            "changes_json": json.dumps(entry.changes, sort_keys=True),
        }

    async def audit(
        self, *, since: datetime | None = None, limit: int = DEFAULT_AUDIT_LIMIT
    ) -> list[AuditEntry]:
        """The newest `limit` audit entries (at or after `since`), newest first."""
        query = select(config_audit).order_by(config_audit.c.id.desc()).limit(limit)
        if since is not None:
            query = query.where(config_audit.c.at >= since)
        async with read(self._engine) as conn:
            rows = await conn.execute(query)
            return [
                AuditEntry(r.at, r.by, r.action, r.kind, r.object_id, json.loads(r.changes_json))
                for r in rows
            ]
