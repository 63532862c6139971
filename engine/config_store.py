"""The running config when portals and servers live in the store (`[admin] config = "store"`):
the config file's other tables (settings, identity, policies, admin) with the store's
`[[servers]]` and `[[portals]]`, their secrets attached in memory.

On the first start the store is empty and the file's portals and servers seed it (logged as
`seed`); from then on the store wins and the file's are ignored (logged at every start).
`export_toml` writes the running config back as a config file that `codemode import` and
`check-config` accept: secrets stay in the store (`credentials = "store"`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import tomli_w

from engine.config import Config, PortalConfig, ServerConfig
from engine.credentials import StoredCredentials

if TYPE_CHECKING:
    from engine.store import Store
    from engine.store.configs import StoredObject

log = logging.getLogger("codemode.config")
SEED_AUTHOR = "seed"
IMPORT_AUTHOR = "import"


def entry(obj: ServerConfig | PortalConfig) -> dict[str, Any]:
    """A server or portal as its config-file table (defaults left out; never a secret)."""
    return obj.model_dump(mode="json", exclude_defaults=True, exclude_none=True)


def secrets_of(config: Config) -> dict[str, StoredCredentials]:
    return {s.id: s.stored_credentials for s in config.servers if s.stored_credentials}


def objects(
    config: Config, secrets: Mapping[str, StoredCredentials] | None = None
) -> list[StoredObject]:
    """`config`'s servers and portals as store rows, with `secrets` (default: its own)."""
    from engine.store.configs import StoredObject

    held = secrets_of(config) if secrets is None else secrets
    out = [StoredObject("server", s.id, entry(s), held.get(s.id)) for s in config.servers]
    out += [StoredObject("portal", p.id, entry(p)) for p in config.portals]
    return out


def with_entries(
    base: Config,
    servers: Sequence[Mapping[str, Any]],
    portals: Sequence[Mapping[str, Any]],
    secrets: Mapping[str, StoredCredentials],
) -> Config:
    """`base` with these servers and portals, validated whole (`Config.from_dict`: every
    problem with its key path, cross-entry checks included), secrets attached.

    Raises:
        ConfigError: the result is not a valid config.
    """
    data = base.model_dump(mode="json", exclude={"servers", "portals"}, exclude_none=True)
    data["servers"] = [dict(s) for s in servers]
    data["portals"] = [dict(p) for p in portals]
    config = Config.from_dict(data)
    attached = [s.with_stored_credentials(secrets.get(s.id)) for s in config.servers]
    return config.model_copy(update={"servers": attached})


def compose(base: Config, stored: Sequence[StoredObject]) -> Config:
    servers = [o.body for o in stored if o.kind == "server"]
    portals = [o.body for o in stored if o.kind == "portal"]
    secrets = {o.id: o.secrets for o in stored if o.kind == "server" and o.secrets is not None}
    return with_entries(base, servers, portals, secrets)


async def load_or_seed(store: Store, config: Config, *, source: str = "the config file") -> Config:
    """The config to run: the store's portals and servers once it has any history; else
    `config`'s, written to the store first (the seed)."""
    configs = store.configs
    if not await configs.seeded():
        async with configs.replacing(objects(config), by=SEED_AUTHOR, action="seed"):
            pass
        log.info(
            "config: seeded the empty store with %d servers and %d portals from %s; from now "
            "on the store is the configuration (the file's [[servers]] and [[portals]] are "
            "ignored)",
            len(config.servers),
            len(config.portals),
            source,
        )
        return config
    running = compose(config, await configs.load())
    log.info(
        "config: %d servers and %d portals from the store (the [[servers]] and [[portals]] "
        "of %s are ignored; `codemode export` writes the store's back as TOML)",
        len(running.servers),
        len(running.portals),
        source,
    )
    return running


async def import_config(store: Store, imported: Config, *, by: str = IMPORT_AUTHOR) -> int:
    """Replace the store's portals and servers with `imported`'s, keeping the store's secrets
    of servers that keep their id. Returns how many objects changed."""
    held = {o.id: o.secrets for o in await store.configs.load() if o.secrets is not None}
    wanted = {**held, **secrets_of(imported)}
    rows = objects(imported, {s.id: wanted[s.id] for s in imported.servers if s.id in wanted})
    async with store.configs.replacing(rows, by=by, action="import") as entries:
        return len([e for e in entries if e.kind != "config"])


async def running_config(config: Config, *, source: str = "the config file") -> Config:
    """The config to serve: `config` itself unless its portals and servers live in the store
    (`[admin] config = "store"`), then the store's (seeded from `config` when empty)."""
    if not config.config_in_store:
        return config
    from engine.store import open_store

    async with open_store(config.settings) as store:
        return await load_or_seed(store, config, source=source)


def keep_stored_entries(loaded: Config, running: Config) -> Config:
    """A re-read config file (SIGHUP) with the running portals and servers kept: in store
    mode the file's are only the seed."""
    if not loaded.config_in_store or not running.config_in_store:
        return loaded
    servers = [entry(s) for s in running.servers]
    portals = [entry(p) for p in running.portals]
    return with_entries(loaded, servers, portals, secrets_of(running))


def keep_file_entries(imported: Config, base: Config) -> Config:
    """`base` with `imported`'s portals and servers, validated against `base`'s policies.

    Raises:
        ConfigError: they do not fit `base`.
    """
    servers = [entry(s) for s in imported.servers]
    portals = [entry(p) for p in imported.portals]
    return with_entries(base, servers, portals, secrets_of(imported))


def export_toml(config: Config) -> str:
    """`config` as a config file (defaults left out; secrets stay in the store)."""
    data = config.model_dump(mode="json", exclude_defaults=True, exclude_none=True)
    header = (
        "# codemode configuration, written by `codemode export`. Secrets given through the\n"
        '# admin API stay encrypted in the store (credentials = "store").\n\n'
    )
    return header + tomli_w.dumps(data)
