"""Code mode policies: which surface each (query, `code_mode`) gives, the URL of each surface
under each policy, and how `code_mode` and the older `allow_code_mode` are reconciled."""

from __future__ import annotations

from urllib.parse import parse_qsl

import pytest

from engine.config import CodeMode, Config, ConfigError
from engine.surfaces import Surface, SurfaceError, surface_for, surface_query

A, M, S, C = Surface.ALL, Surface.MINIMIZE_TOOLS, Surface.SEARCH_AND_EXECUTE, Surface.CODEMODE
OFF, OPT_IN, DEFAULT_ON, ENFORCED = CodeMode

TABLE = {
    # query: (off, opt_in, default_on, enforced)
    "": (A, A, C, C),
    "optimize_context=minimize_tools": (M, M, M, C),
    "optimize_context=search_and_execute": (A, S, S, C),
    "codemode=search_and_execute": (A, C, C, C),
    "codemode=off": (A, A, A, C),
    "codemode=yes": (A, "error", "error", C),  # ignored where code mode is off or enforced
    "optimize_context=fewer": ("error", "error", "error", C),
    "optimize_context=minimize_tools&codemode=off": (M, "error", "error", C),
}


@pytest.mark.parametrize("query", list(TABLE))
@pytest.mark.parametrize("mode", list(CodeMode))
def test_surface_for_each_policy_and_query(query: str, mode: CodeMode) -> None:
    expected = TABLE[query][list(CodeMode).index(mode)]
    params = dict(parse_qsl(query))
    if expected == "error":
        with pytest.raises(SurfaceError):
            surface_for(params, mode)
    else:
        assert surface_for(params, mode) is expected


@pytest.mark.parametrize("mode", list(CodeMode))
def test_surface_query_gives_back_its_surface(mode: CodeMode) -> None:
    offered = {s: surface_query(s, mode) for s in Surface}
    for surface, query in offered.items():
        if query is not None:
            assert surface_for(dict(parse_qsl(query.removeprefix("?"))), mode) is surface
    assert [q for q in offered.values() if q == ""] == [""]  # `/mcp` alone is exactly one
    runs_code = {s for s, q in offered.items() if q is not None and s.runs_code}
    assert bool(runs_code) == mode.runs_code
    if mode is ENFORCED:
        assert {s for s, q in offered.items() if q is not None} == {C}


def portal(**keys: object) -> Config:
    return Config.from_dict({"portals": [{"id": "p", **keys}]})


@pytest.mark.parametrize(
    ("keys", "mode"),
    [
        ({}, OPT_IN),
        ({"allow_code_mode": True}, OPT_IN),
        ({"allow_code_mode": False}, OFF),
        ({"code_mode": "enforced"}, ENFORCED),
        ({"code_mode": "default_on", "allow_code_mode": True}, DEFAULT_ON),
        ({"code_mode": "off", "allow_code_mode": False}, OFF),
    ],
)
def test_code_mode_and_allow_code_mode_agree(keys: dict[str, object], mode: CodeMode) -> None:
    config = portal(**keys).portals[0]
    assert config.code_mode is mode
    assert config.allow_code_mode is mode.runs_code
    # What a config dumps loads again the same (the admin API and reload copy configs).
    assert Config.from_dict(portal(**keys).model_dump(mode="json")).portals[0] == config


@pytest.mark.parametrize(
    "keys",
    [
        {"code_mode": "off", "allow_code_mode": True},
        {"code_mode": "enforced", "allow_code_mode": False},
    ],
)
def test_disagreeing_keys_are_one_problem_naming_both(keys: dict[str, object]) -> None:
    with pytest.raises(ConfigError) as caught:
        portal(**keys)
    [problem] = caught.value.problems
    assert problem.path == "portals[0].code_mode"
    assert "code_mode" in problem.message and "allow_code_mode" in problem.message


@pytest.mark.parametrize("value", ["on", "OFF", True, 1])
def test_unknown_code_mode_lists_the_policies(value: object) -> None:
    with pytest.raises(ConfigError) as caught:
        portal(code_mode=value)
    [problem] = caught.value.problems
    assert problem.path == "portals[0].code_mode"
    assert all(m in problem.message for m in CodeMode)
