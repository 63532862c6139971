"""TypeScript-annotated agent code to JavaScript, with the oxc transformer in quickjs-rs.

Agent code is a script body (top-level `await` and `return` allowed), so it is wrapped in an
`async function` before the transform, which parses modules, and unwrapped after. The
transformer reprints what it parses, so plain JavaScript is recognised by comparing the
TypeScript-stripped output with a JavaScript-only reprint of the same text: when they agree
there was nothing to strip and the agent's text is returned byte for byte.

Agents often send their code inside a markdown fence (```ts ... ```), sometimes with prose around
it. `unfence` takes the fence off before anything else looks at the code, since a fence line is
not TypeScript; `strip_types` calls it first, so every caller gets the same normalisation.

The transformer reports a syntax error without a position. `_locate` finds one by re-parsing
prefixes of the agent's text followed by a character that is invalid everywhere: when the
parser's first complaint is that character, the prefix was fine so far.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass

from quickjs_rs._transform import (
    FLAG_SOURCE_TS,
    FLAG_STRIP_TYPESCRIPT,
    FLAG_TOP_LEVEL_CONST_TO_VAR,
    SourceTransformer,
    TransformError,
)

from stubs.errors import StripError

_TS_FLAGS = FLAG_SOURCE_TS | FLAG_STRIP_TYPESCRIPT
# Without a SOURCE_* flag the transformer parses JavaScript; this flag only makes it reprint
# (it rewrites top-level `const`, and inside the wrapper nothing is top level).
_JS_FLAGS = FLAG_TOP_LEVEL_CONST_TO_VAR
_FILE_NAME = "agent.ts"
_HEAD = "async function __codemode_agent__() {\n"  # one line: agent line N is wrapped line N+1
_TAIL = "\n}"
_SENTINEL = "\ue000"  # private-use character: an "Invalid Character" wherever it appears
_ERROR_PREFIX = f"source parse error in {_FILE_NAME}: "
# The transformer caches every result; start a fresh one after this many calls to bound memory.
_RENEW_AFTER = 512
# Characters of the failing line scanned back from its end to find the error column.
_COLUMN_SCAN_MAX = 400


# A fence line: three or more backticks, then an info string whose first word is the language.
_FENCE_LINE = re.compile(r"^[ \t]*(`{3,})[ \t]*([^`\s]*)[^`\n]*$")
_CLOSING_FENCE_LINE = re.compile(r"^[ \t]*(`{3,})[ \t]*$")
_UNESCAPED_TICK = re.compile(r"(?<!\\)`")
_CODE_LANGUAGES = frozenset(
    {"", "js", "javascript", "ts", "typescript", "mjs", "cjs", "mts", "cts", "jsx", "tsx"}
)


def unfence(code: str) -> str:
    """The code inside the first JavaScript/TypeScript markdown fence of `code`, if it has one.

    A fence tagged `ts`, `typescript`, `js`, `javascript` (and kin) or untagged counts; prose
    and other fences around it are dropped. Line numbers are kept: every line before the
    fence's content (prose, the opening fence line) becomes an empty line, so line N of the
    result is line N of what the agent sent, and columns are unchanged.

    A fence must open outside any backtick string: a line of backticks inside a template
    literal (JavaScript that builds markdown) is not one, so such code comes back unchanged.
    A fence left open counts only when it is the first thing in `code` (a cut-off answer).
    """
    if "```" not in code:
        return code
    lines = code.split("\n")
    ticks = 0  # backticks seen outside fences: odd means inside a template literal
    open_at: int | None = None  # the line of the fence we are in
    fence = language = ""
    for index, line in enumerate(lines):
        text = line.removesuffix("\r")
        if open_at is None:
            opening = _FENCE_LINE.match(text) if ticks % 2 == 0 else None
            if opening is None:
                ticks += len(_UNESCAPED_TICK.findall(text))
            else:
                open_at, fence, language = index, opening.group(1), opening.group(2).lower()
            continue
        closing = _CLOSING_FENCE_LINE.match(text)
        if closing is None or len(closing.group(1)) < len(fence):
            continue
        if language in _CODE_LANGUAGES:
            return _fenced(lines, open_at, index)
        open_at = None
    left_open = open_at is not None and language in _CODE_LANGUAGES
    if left_open and open_at is not None and not "".join(lines[:open_at]).strip():
        return _fenced(lines, open_at, len(lines))
    return code


def _fenced(lines: list[str], open_at: int, close_at: int) -> str:
    """Lines open_at+1 .. close_at-1, after open_at+1 empty lines (keeping line numbers)."""
    return "\n" * (open_at + 1) + "\n".join(lines[open_at + 1 : close_at])


@dataclass
class _Transformer:
    """One transformer instance shared by all threads (it serialises calls itself)."""

    instance: SourceTransformer
    calls: int = 0


_lock = threading.Lock()
_shared: _Transformer | None = None


def _transform(source: str, flags: int) -> str:
    global _shared
    with _lock:
        if _shared is None or _shared.calls >= _RENEW_AFTER:
            if _shared is not None:
                _shared.instance.close()
            _shared = _Transformer(SourceTransformer())
        _shared.calls += 1
        transformer = _shared.instance
        return transformer.transform(_FILE_NAME, source, flags=flags)


def strip_types(code: str) -> str:
    """JavaScript for `code`, which may carry TypeScript annotations, casts, interfaces, ...

    `code` may be inside a markdown fence: `unfence` takes it off first. Plain JavaScript comes
    back unchanged (unfenced). Raises `StripError` when `code` is neither valid TypeScript nor
    valid JavaScript; its 1-based line and column point into `code` as the agent sent it,
    fence and prose lines included (`unfence` keeps line numbers).
    """
    code = unfence(code)
    wrapped = _HEAD + code + _TAIL
    try:
        stripped = _transform(wrapped, _TS_FLAGS)
    except TransformError as ts_error:
        if _parses_as_javascript(wrapped):
            return code  # valid JavaScript the TypeScript grammar reads differently
        line, column = _locate(code)
        raise StripError(_message(ts_error), line, column) from None
    if _parses_as_javascript(wrapped, expect=stripped):
        return code
    return _unwrap(stripped)


def _parses_as_javascript(wrapped: str, expect: str | None = None) -> bool:
    """Whether `wrapped` is JavaScript (and, given `expect`, reprints exactly as that)."""
    try:
        reprint = _transform(wrapped, _JS_FLAGS)
    except TransformError:
        return False
    return expect is None or reprint == expect


def _unwrap(output: str) -> str:
    # The reprint is `async function __codemode_agent__() {<body>}\n`.
    body = output[output.index("{") + 1 : output.rindex("}")]
    return body.removeprefix("\n").removesuffix("\n")


def _message(error: TransformError) -> str:
    text = str(error).removeprefix(_ERROR_PREFIX)
    return text.split("; ")[0] or "TypeScript syntax error"


def _viable(prefix: str) -> bool:
    """Whether the parser gets through `prefix` without an error of its own."""
    try:
        _transform(_HEAD + prefix + "\n" + _SENTINEL, _TS_FLAGS)
    except TransformError as error:
        text = str(error)
        # The sentinel is seen either by the lexer or as an `Unknown` token by the parser.
        return _SENTINEL in text or "found `Unknown`" in text
    return True


def _locate(code: str) -> tuple[int, int]:
    """1-based (line, column) in `code` of the first point the parser cannot get past."""
    lines = code.splitlines(keepends=True) or [""]
    starts = [0]
    for text in lines:
        starts.append(starts[-1] + len(text))
    if _viable(code):
        # Every token parses; the text just ends too early (an unclosed block or call).
        last = lines[-1].rstrip("\r\n")
        return len(lines), len(last) + 1
    # Largest k such that the first k lines parse (k = 0 always does).
    good, bad = 0, len(lines)
    while bad - good > 1:
        mid = (good + bad) // 2
        if _viable(code[: starts[mid]]):
            good = mid
        else:
            bad = mid
    line = lines[good].rstrip("\r\n")
    before = code[: starts[good]]
    for column in range(len(line), max(-1, len(line) - _COLUMN_SCAN_MAX - 1), -1):
        if _viable(before + line[:column]):
            return good + 1, _token_start(line, column) + 1
    return good + 1, 1


_OPERATOR_CHARS = frozenset("=<>!&|+-*/%^?.:")


def _token_start(line: str, column: int) -> int:
    """Move a cut that splits an operator (`=` | `>` of `=>`) back to where the operator starts."""
    while 0 < column < len(line) and {line[column - 1], line[column]} <= _OPERATOR_CHARS:
        column -= 1
    return column
