"""Tool names to `codemode` identifiers: the rules of docs/design.md ("Names"), collisions,
reversibility."""

from __future__ import annotations

import itertools
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stubs import HELPER_NAMES, reverse_names, sanitize_name, sanitize_names

IDENTIFIER = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$]*$")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("github_create-issue", "github_create_issue"),
        ("jira.search", "jira_search"),
        ("list all", "list_all"),
        ("weird!@#name", "weirdname"),
        ("2fa_verify", "_2fa_verify"),
        ("delete", "delete_"),
        ("class", "class_"),
        ("search", "search_"),  # helper on codemode itself
        ("describe", "describe_"),
        ("constructor", "constructor_"),
        ("then", "then_"),  # would make codemode a thenable
        ("$ok", "$ok"),
        ("ü", "_"),
        ("", "_"),
    ],
)
def test_sanitize_rules(name: str, expected: str) -> None:
    assert sanitize_name(name) == expected


def test_collisions_get_deterministic_suffixes() -> None:
    names = ["a-b", "a.b", "a b", "a_b"]
    mapping = sanitize_names(names)
    # The name that already is its identifier keeps it; the rest follow in sorted order.
    assert mapping == {"a_b": "a_b", "a b": "a_b_2", "a-b": "a_b_3", "a.b": "a_b_4"}


def test_suffix_never_takes_another_tools_identifier() -> None:
    mapping = sanitize_names(["x-y", "x.y", "x_y_2"])
    assert mapping["x_y_2"] == "x_y_2"
    assert len(set(mapping.values())) == 3
    assert mapping["x-y"] == "x_y"


def test_result_does_not_depend_on_input_order() -> None:
    names = ["s_a-b", "s_a.b", "s_a_b", "t_delete", "delete", "1x", "_1x"]
    first = sanitize_names(names)
    for perm in itertools.islice(itertools.permutations(names), 50):
        assert sanitize_names(perm) == first


def test_reverse_routes_back() -> None:
    mapping = sanitize_names(["srv_get-item", "srv_get.item", "search"])
    back = reverse_names(mapping)
    assert {back[js]: js for js in back} == mapping
    assert back["search_"] == "search"


def test_reverse_rejects_a_mapping_with_duplicates() -> None:
    with pytest.raises(ValueError, match="both map to"):
        reverse_names({"a": "x", "b": "x"})


@given(st.lists(st.text(max_size=12), max_size=12))
def test_any_names_give_distinct_valid_unreserved_identifiers(names: list[str]) -> None:
    mapping = sanitize_names(names)
    assert set(mapping) == set(names)
    values = list(mapping.values())
    assert len(values) == len(set(values))
    for js in values:
        assert IDENTIFIER.match(js), js
        assert js not in HELPER_NAMES
