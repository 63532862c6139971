"""The TypeScript compiler checks what `declare` writes, on real tools/list output.

One strict tsc run covers, per corpus server, the declarations plus a usage file that must
compile and a wrong-usage file whose every line marked `// TS<code>` must fail with that code;
plus every snapshot of the tricky-schema set.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from stubs import declare, declare_tool, sanitize_names
from tests.stubs import fuzz
from tests.stubs.support import CORPUS, HERE, TscError, corpus_tools, run_tsc

USAGE = HERE / "usage"
SNAPSHOTS = HERE / "snapshots"
# The sandbox provides console; lib es2022 (no DOM) does not declare it.
PRELUDE = "declare const console: { log(...args: unknown[]): void };\n"
_EXPECT = re.compile(r"// (TS\d+)\s*$")

# Files of random schemas (8 tools each) compiled in the same run.
FUZZ_FILES = 25
# Expected (line, code) errors per file name; the errors tsc reported; its raw output.
Compiled = tuple[dict[str, set[tuple[int, str]]], list[TscError], str]


def _program(declarations: str, usage: str) -> tuple[str, int]:
    """File text (a module, so each file has its own `codemode`) and the usage's line offset."""
    head = declarations + PRELUDE
    return head + usage + "export {};\n", head.count("\n")


def _expected(usage: str, offset: int) -> set[tuple[int, str]]:
    return {
        (offset + number, m[1])
        for number, line in enumerate(usage.splitlines(), start=1)
        if (m := _EXPECT.search(line))
    }


@pytest.fixture(scope="module")
def compiled(
    tmp_path_factory: pytest.TempPathFactory,
) -> Compiled:
    """Write every program, run tsc once; return expected errors per file and what tsc said."""
    work = tmp_path_factory.mktemp("tsc")
    files: list[Path] = []
    expected: dict[str, set[tuple[int, str]]] = {}
    for server in CORPUS:
        declarations = declare(corpus_tools(server))
        for kind in ("ok", "bad"):
            usage = (USAGE / f"{server}.{kind}.ts").read_text()
            text, offset = _program(declarations, usage)
            path = work / f"{server}_{kind}.ts"
            path.write_text(text)
            files.append(path)
            expected[path.name] = _expected(usage, offset)
        # Each tool alone (what `codemode.describe` shows) must be complete too.
        names = sanitize_names(t["name"] for t in corpus_tools(server))
        for i, tool in enumerate(corpus_tools(server)):
            path = work / f"alone_{server}_{i}.ts"
            path.write_text(declare_tool(tool, names=names) + "export {};\n")
            files.append(path)
            expected[path.name] = set()
    for seed in range(FUZZ_FILES):
        path = work / f"fuzz_{seed}.ts"
        path.write_text(declare(fuzz.tools(seed, 8)) + "export {};\n")
        files.append(path)
        expected[path.name] = set()
    for snapshot in sorted(SNAPSHOTS.glob("*.d.ts")):
        path = work / f"snapshot_{snapshot.name.removesuffix('.d.ts')}.ts"
        path.write_text(snapshot.read_text() + "export {};\n")
        files.append(path)
        expected[path.name] = set()
    _, errors, output = run_tsc(files, work)
    return expected, errors, output


@pytest.mark.parametrize("server", CORPUS)
def test_declarations_and_valid_usage_compile(server: str, compiled: Compiled) -> None:
    _, errors, output = compiled
    mine = [e for e in errors if e.file == f"{server}_ok.ts"]
    assert not mine, output


@pytest.mark.parametrize("server", CORPUS)
def test_wrong_usage_fails_where_marked(server: str, compiled: Compiled) -> None:
    expected_by_file, errors, output = compiled
    name = f"{server}_bad.ts"
    expected = expected_by_file[name]
    assert expected, f"{name} marks no lines"
    got = {(e.line, e.code) for e in errors if e.file == name}
    assert got == expected, output


def test_snapshots_compile(
    compiled: Compiled,
) -> None:
    expected_by_file, errors, output = compiled
    snapshot_files = [n for n in expected_by_file if n.startswith("snapshot_")]
    assert snapshot_files, "no snapshots found"
    assert not [e for e in errors if e.file.startswith("snapshot_")], output


def test_each_tool_alone_compiles(compiled: Compiled) -> None:
    expected_by_file, errors, output = compiled
    alone = [n for n in expected_by_file if n.startswith("alone_")]
    assert len(alone) == sum(len(corpus_tools(s)) for s in CORPUS)
    assert not [e for e in errors if e.file.startswith("alone_")], output


def test_random_schemas_give_declarations_that_compile(compiled: Compiled) -> None:
    _, errors, output = compiled
    assert not [e for e in errors if e.file.startswith("fuzz_")], output


def test_compiler_output_was_parsed(
    compiled: Compiled,
) -> None:
    # Every diagnostic line tsc printed must have been understood, or a failure could hide.
    _, errors, output = compiled
    printed = [line for line in output.splitlines() if ": error TS" in line]
    assert len(printed) == len(errors), output
