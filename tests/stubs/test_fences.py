"""Markdown fences around agent code: `unfence`, and `strip_types`, which takes them off first."""

from __future__ import annotations

import pytest

from stubs import StripError, strip_types, unfence

TS = "const x: number = 1; return x"


@pytest.mark.parametrize("language", ["ts", "typescript", "js", "javascript", "", "TypeScript"])
def test_a_fence_of_each_language_comes_off_before_types_are_stripped(language: str) -> None:
    fenced = f"```{language}\n{TS}\n```"
    assert unfence(fenced) == f"\n{TS}"
    assert strip_types(fenced) == strip_types(TS)


def test_prose_and_other_fences_around_the_code_are_dropped() -> None:
    text = (
        'Here is the data I expect:\n```json\n{"a": 1}\n```\n'
        "And the code:\n```ts\nasync function main(): Promise<string> {\n  return 'a'\n}\n```\n"
        "This returns `a`."
    )
    # The content keeps its line numbers: line 7 of the text is line 7 of the code.
    assert unfence(text).split("\n")[6:] == [
        "async function main(): Promise<string> {",
        "  return 'a'",
        "}",
    ]
    assert unfence(text).split("\n")[:6] == [""] * 6
    assert ": Promise" not in strip_types(text)


def test_an_unclosed_fence_at_the_start_counts() -> None:
    assert unfence("```ts\nreturn 1") == "\nreturn 1"


@pytest.mark.parametrize(
    "code",
    [
        "return 1",
        "const md = `\n\\`\\`\\`js\nx\n\\`\\`\\`\n`;\nreturn md;",  # JavaScript writing markdown
        "const s = '```';\nreturn s",
        "```python\nprint(1)\n```",  # not ours to run: left for the parser to reject
        "return 1\n```ts\nreturn 2",  # an open fence after code is not a cut-off answer
    ],
)
def test_code_without_a_javascript_fence_is_unchanged(code: str) -> None:
    assert unfence(code) == code


def test_javascript_building_markdown_passes_through_strip_types_unchanged() -> None:
    code = "const md = `\n\\`\\`\\`js\nx\n\\`\\`\\`\n`;\nreturn md;"
    assert strip_types(code) == code


@pytest.mark.parametrize(
    ("code", "line", "column"),
    [
        ("```ts\nconst x: = 1;\n```", 2, 10),
        ("Try this:\n\n```typescript\nconst a = 1;\nconst b: = 2;\n```\nDone.", 5, 10),
    ],
)
def test_syntax_errors_in_a_fence_point_into_the_agents_text(
    code: str, line: int, column: int
) -> None:
    with pytest.raises(StripError) as caught:
        strip_types(code)
    assert (caught.value.line, caught.value.column) == (line, column)
