"""A run's output over the cap, taken apart again by `results.read_cut` for `codemode run`."""

from __future__ import annotations

from mcp_types import TextContent

from engine.results import read_cut, run_output
from sandbox import LogEntry, RunResult, SandboxError
from sandbox.errors import ErrorKind


def _text(run: RunResult, cap: int) -> str:
    block = run_output(run, cap).content[0]
    assert isinstance(block, TextContent)
    return block.text


def test_a_string_cut_anywhere_reads_as_its_text() -> None:
    value = 'a"\u00e9\\\n\U0001f600' * 100
    for cap in range(200, 230):  # every cut point inside the escapes
        cut = read_cut(_text(RunResult(value=value), cap))
        assert cut is not None and not cut.is_error
        assert cut.notice.startswith("[output cut: showing the first ") and cut.notice[-1] == "]"
        assert cut.value and value.startswith(cut.value)


def test_a_value_that_fits_before_the_cut_logs_comes_whole() -> None:
    run = RunResult(value={"k": [1, 2]}, logs=[LogEntry("log", "x" * 1000)])
    cut = read_cut(_text(run, 300))
    assert cut is not None and cut.value == '{"k": [1, 2]}'


def test_a_cut_error_is_an_error() -> None:
    error = SandboxError(ErrorKind.RUNTIME, "y" * 1000, name="Error")
    cut = read_cut(_text(RunResult(error=error), 300))
    assert cut is not None and cut.is_error and cut.value.startswith('{"kind": "runtime"')


def test_output_under_the_cap_is_not_cut() -> None:
    assert read_cut(_text(RunResult(value="short"), 300)) is None
