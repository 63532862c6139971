"""Client-visible names for upstream tools and prompts.

Clients and LLM APIs accept names matching `^[A-Za-z0-9_-]{1,64}$`. A namespaced
`<server_id>_<name>` may be too long, carry other characters, or (because server ids may contain
`_`) equal another pair's join: `a_b` + `c` and `a` + `b_c` both give `a_b_c`. Names are
therefore assigned for a whole set at once, so uniqueness holds by construction, not by luck
of a hash. All functions here are pure: the same input set always gives the same names,
whatever its order.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass

MAX_NAME_LEN = 64
NAME_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_DISALLOWED = re.compile(r"[^A-Za-z0-9_-]+")
_HASH_LEN = 8

Key = tuple[str, str]
"""(server_id, upstream_name): the exact identity of one upstream tool or prompt."""


def is_valid_name(name: str) -> bool:
    return NAME_PATTERN.fullmatch(name) is not None


def namespaced(server_id: str, name: str) -> str:
    """Cloudflare's scheme: `<server_id>_<name>`, before any cleaning."""
    return f"{server_id}_{name}"


def short_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:_HASH_LEN]


def clean(text: str) -> str:
    """Replace each run of characters outside `[A-Za-z0-9_-]` with one `_`."""
    return _DISALLOWED.sub("_", text)


def _with_suffix(head: str, suffix: str) -> str:
    """`<readable head>_<suffix>`, the head cut so the whole fits in MAX_NAME_LEN."""
    room = MAX_NAME_LEN - len(suffix) - 1
    cut = clean(head)[:room].rstrip("_")
    return f"{cut}_{suffix}" if cut else suffix


def shortened(desired: str, key: Key) -> str:
    """A valid name for `desired` that keeps a readable head and a hash of the exact original."""
    return _with_suffix(desired, short_hash(f"{key[0]}\x00{key[1]}"))


@dataclass(frozen=True)
class NameTable:
    """Exact two-way mapping between upstream identities and client-visible names."""

    forward: Mapping[Key, str]
    reverse: Mapping[str, Key]

    def public(self, server_id: str, upstream_name: str) -> str:
        return self.forward[(server_id, upstream_name)]

    def resolve(self, public_name: str) -> Key | None:
        return self.reverse.get(public_name)


def assign_names(wanted: Mapping[Key, str]) -> NameTable:
    """Give each key a distinct valid name, as close as possible to the name it wants.

    `wanted[key]` is the desired client-visible name, usually `namespaced(server_id, alias or
    upstream name)`. A desired name that is valid and wanted by one key only is used as is.
    Otherwise, in a fixed order (valid desired names first, then by key), a key gets the
    cleaned, shortened name with a hash of its key, and if even that is taken (two keys wanting
    one name, or a hash clash), a numbered variant: with n keys at most n names are taken, so
    one of n + 1 numbered variants is always free.
    """
    order = sorted(wanted, key=lambda k: (not is_valid_name(wanted[k]), wanted[k], k))
    forward: dict[Key, str] = {}
    taken: dict[str, Key] = {}
    for key in order:
        desired = wanted[key]
        candidates = [desired] if is_valid_name(desired) else []
        candidates.append(shortened(desired, key))
        name = next((c for c in candidates if c not in taken), None)
        if name is None:
            name = _numbered(desired, key, taken.keys(), len(wanted))
        forward[key] = name
        taken[name] = key
    return NameTable(forward=forward, reverse=taken)


def _numbered(desired: str, key: Key, taken: AbstractSet[str], bound: int) -> str:
    # Fixed-width counters keep the head cut identical, so the variants are all distinct.
    base = short_hash(f"{key[0]}\x00{key[1]}")
    width = len(str(bound))
    for n in range(bound + 1):
        name = _with_suffix(desired, f"{base}{n:0{width}d}")
        if name not in taken:
            return name
    raise AssertionError("unreachable: more names taken than keys")
