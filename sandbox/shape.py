"""Turn what models actually write into something QuickJS can evaluate.

Accepted shapes (the value returned, or of the last expression, is the result):
- a script body with top-level `await`, ending in an expression or a `return`;
- an `async () => {...}` arrow (or any function expression): it is called;
- an `async function main() {...}` declaration that the code never calls: it is called.

Markdown fences around the code are taken off before it gets here, by `stubs.strip_types`
(through `stubs.unfence`), the engine's one normalisation step: this module sees JavaScript.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import IntEnum

AGENT_FILE = "agent.js"
# QuickJS reports columns on the first line of a source 0-based and on later lines 1-based, so
# agent code always starts on line 2 of what we evaluate; positions are shifted back by a line.
_SCRIPT_HEAD = "\n"
_WRAP_HEAD = "(async function () {\n"
_WRAP_TAIL = "\n})()"

_MAIN_DECL = re.compile(r"^\s*(?:async\s+)?function\s*\*?\s*main\s*\(", re.MULTILINE)
_MAIN_CALL = re.compile(r"\bmain\s*\(")


class Mode(IntEnum):
    """How the prelude's `start` reads the evaluated code's promise (see prelude.js)."""

    FUNCTION_BODY = 0
    SCRIPT = 1
    SCRIPT_THEN_MAIN = 2


@dataclass(frozen=True, slots=True)
class Prepared:
    source: str
    mode: Mode
    agent_lines: int
    line_shift: int = 1
    """Lines added before the agent's code; subtracted again when reporting positions."""

    def agent_line(self, line: int) -> int | None:
        """The agent's line number for a line of `source`, None inside our wrapper."""
        shifted = line - self.line_shift
        return shifted if 1 <= shifted <= self.agent_lines else None


def as_script(code: str) -> Prepared:
    main_declared = _MAIN_DECL.search(code) is not None
    calls_main = len(_MAIN_CALL.findall(code)) > 1
    mode = Mode.SCRIPT_THEN_MAIN if main_declared and not calls_main else Mode.SCRIPT
    return Prepared(_SCRIPT_HEAD + code, mode, code.count("\n") + 1)


def as_function_body(code: str) -> Prepared:
    """For code with a top-level `return`, which a script may not contain."""
    return Prepared(_WRAP_HEAD + code + _WRAP_TAIL, Mode.FUNCTION_BODY, code.count("\n") + 1)


def needs_function_body(syntax_message: str) -> bool:
    return "return not in a function" in syntax_message
