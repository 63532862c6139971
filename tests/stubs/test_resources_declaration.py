"""The fixed `codemode.resources` declaration compiles under strict tsc, and typed use of it
compiles while wrong use fails (a blob read as text, a missing URI)."""

from __future__ import annotations

from pathlib import Path

from stubs import RESERVED_NAMES, RESOURCE_METHODS, RESOURCES_DECLARATION, sanitize_names
from tests.stubs.support import run_tsc

USAGE = """
async function main(): Promise<string> {
  const list = await codemode.resources.list();
  const templates = await codemode.resources.templates();
  const [first] = await codemode.resources.read(list[0].uri);
  const text: string = "text" in first ? first.text : atob(first.blob);
  return text + list[0].server + templates[0].uriTemplate;
}
declare function atob(data: string): string;
"""
WRONG = """
async function wrong(): Promise<void> {
  const [first] = await codemode.resources.read("x");
  const text: string = first.text; // TS2339
  await codemode.resources.read(); // TS2554
}
"""


def test_declaration_compiles_and_types_use(tmp_path: Path) -> None:
    good, bad = tmp_path / "good.ts", tmp_path / "bad.ts"
    good.write_text(RESOURCES_DECLARATION + USAGE + "export {};\n")
    bad.write_text(RESOURCES_DECLARATION + WRONG + "export {};\n")
    _code, errors, output = run_tsc([good, bad], tmp_path)
    assert not [e for e in errors if e.file.endswith("good.ts")], output
    offset = RESOURCES_DECLARATION.count("\n")
    assert {(e.line - offset, e.code) for e in errors if e.file.endswith("bad.ts")} == {
        (4, "TS2339"),
        (5, "TS2554"),
    }, output


def test_the_namespace_name_is_never_a_tool() -> None:
    assert "resources" in RESERVED_NAMES
    assert sanitize_names(["resources"]) == {"resources": "resources_"}
    assert all(m.startswith("resources.") for m in RESOURCE_METHODS)
