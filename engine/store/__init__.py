"""The portal's database: people, OAuth clients, grants, codes, tokens and upstream OAuth
states (SQLAlchemy 2 Core, async; SQLite by default), migrated by Alembic, with secrets
encrypted at rest. Open it with `open_store(settings)`; see `engine.store.grants` for the API
the authorization server calls."""

from engine.store.admin_tokens import AdminToken, AdminTokenError, AdminTokenStore
from engine.store.db import (
    Store,
    StoreError,
    StoreUnavailable,
    create_engine,
    migrate,
    open_store,
)
from engine.store.grants import (
    AuthorizationCode,
    ClientRecord,
    ConnectedClient,
    GrantError,
    GrantStore,
    IssuedCode,
    RevocationSummary,
    TokenInfo,
    TokenPair,
)
from engine.store.people import PeopleStore, Person
from engine.store.secrets import Cipher, DecryptionError, SecretKey, SecretKeyError

__all__ = [
    "AdminToken",
    "AdminTokenError",
    "AdminTokenStore",
    "AuthorizationCode",
    "Cipher",
    "ClientRecord",
    "ConnectedClient",
    "DecryptionError",
    "GrantError",
    "GrantStore",
    "IssuedCode",
    "PeopleStore",
    "Person",
    "RevocationSummary",
    "SecretKey",
    "SecretKeyError",
    "Store",
    "StoreError",
    "StoreUnavailable",
    "TokenInfo",
    "TokenPair",
    "create_engine",
    "migrate",
    "open_store",
]
