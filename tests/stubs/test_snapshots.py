"""Snapshots of `declare` for hand-written tricky schemas (one per JSON Schema feature).

Run with UPDATE_SNAPSHOTS=1 to rewrite them, then read the diff: the files must read like
declarations a TypeScript engineer would write. test_tsc.py compiles every snapshot.
"""

from __future__ import annotations

import os

import pytest

from stubs import declare
from tests.stubs.cases import CASES
from tests.stubs.support import CORPUS, HERE, corpus_tools

SNAPSHOTS = HERE / "snapshots"
UPDATE = os.environ.get("UPDATE_SNAPSHOTS") == "1"


@pytest.mark.parametrize("case", sorted(CASES))
def test_declaration_snapshot(case: str) -> None:
    text = declare([CASES[case]])
    path = SNAPSHOTS / f"{case}.d.ts"
    if UPDATE:
        path.write_text(text)
    assert path.exists(), f"no snapshot {path.name}: run with UPDATE_SNAPSHOTS=1 and review it"
    assert text == path.read_text()


def test_every_snapshot_has_a_case() -> None:
    stale = {p.name.removesuffix(".d.ts") for p in SNAPSHOTS.glob("*.d.ts")} - set(CASES)
    assert not stale, f"snapshots without a case: {sorted(stale)}"


@pytest.mark.parametrize("server", CORPUS)
def test_corpus_declaration_snapshot(server: str) -> None:
    # The real servers' declarations, kept for review: a change in layout shows up as a diff.
    text = declare(corpus_tools(server))
    path = SNAPSHOTS / "corpus" / f"{server}.d.ts"
    if UPDATE:
        path.parent.mkdir(exist_ok=True)
        path.write_text(text)
    assert path.exists(), f"no snapshot {path.name}: run with UPDATE_SNAPSHOTS=1 and review it"
    assert text == path.read_text()
