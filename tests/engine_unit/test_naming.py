from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.naming import (
    MAX_NAME_LEN,
    assign_names,
    clean,
    is_valid_name,
    namespaced,
    short_hash,
)

ids = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_-", min_size=1, max_size=32)
# Upstream names: anything, including unicode, dots, spaces and very long names.
upstream_names = st.one_of(
    st.text(max_size=120),
    st.text(alphabet="ab_-.", min_size=1, max_size=80),
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=50, max_size=70),
)
keys = st.tuples(ids, upstream_names)


@st.composite
def wanted_maps(draw: st.DrawFn) -> dict[tuple[str, str], str]:
    chosen = draw(st.lists(keys, max_size=40, unique=True))
    out: dict[tuple[str, str], str] = {}
    for server_id, name in chosen:
        # Mostly the namespaced name; sometimes an alias that collides with another entry.
        collide: bool = draw(st.integers(min_value=0, max_value=3)) == 0
        if out and collide:
            out[(server_id, name)] = draw(st.sampled_from(sorted(out.values())))
        else:
            out[(server_id, name)] = namespaced(server_id, name)
    return out


@settings(max_examples=300, deadline=None)
@given(wanted_maps())
def test_names_are_valid_unique_and_map_back_exactly(wanted: dict[tuple[str, str], str]) -> None:
    table = assign_names(wanted)
    names = list(table.forward.values())
    assert all(is_valid_name(n) for n in names)
    assert len(set(names)) == len(names) == len(wanted)
    for key, name in table.forward.items():
        assert table.resolve(name) == key
        assert table.public(*key) == name


@settings(max_examples=100, deadline=None)
@given(wanted_maps(), st.randoms(use_true_random=False))
def test_assignment_does_not_depend_on_order(
    wanted: dict[tuple[str, str], str], rnd: random.Random
) -> None:
    items = list(wanted.items())
    rnd.shuffle(items)
    assert assign_names(dict(items)).forward == assign_names(wanted).forward


@settings(max_examples=200, deadline=None)
@given(wanted_maps())
def test_a_valid_name_wanted_once_is_kept_as_is(wanted: dict[tuple[str, str], str]) -> None:
    table = assign_names(wanted)
    counts: dict[str, int] = {}
    for desired in wanted.values():
        counts[desired] = counts.get(desired, 0) + 1
    for key, desired in wanted.items():
        if is_valid_name(desired) and counts[desired] == 1:
            assert table.public(*key) == desired


def test_plain_names_pass_through() -> None:
    table = assign_names({("time", "get_current_time"): "time_get_current_time"})
    assert table.public("time", "get_current_time") == "time_get_current_time"


def test_long_name_keeps_readable_head_and_hash_of_original() -> None:
    upstream = "list_all_repository_branches_including_remote_tracking_ones_sorted_by_date"
    table = assign_names({("github", upstream): namespaced("github", upstream)})
    name = table.public("github", upstream)
    assert len(name) == MAX_NAME_LEN
    assert name.startswith("github_list_all_repository_branches")
    assert name.endswith("_" + short_hash("github\x00" + upstream))
    assert table.resolve(name) == ("github", upstream)


def test_other_characters_are_cleaned() -> None:
    table = assign_names({("docs", "search.pages v2"): namespaced("docs", "search.pages v2")})
    name = table.public("docs", "search.pages v2")
    assert name.startswith("docs_search_pages_v2_")
    assert is_valid_name(name)
    assert clean("a.b  c/d") == "a_b_c_d"


def test_underscore_server_ids_cannot_collide() -> None:
    # `a_b` + `c` and `a` + `b_c` both join to `a_b_c`: only one may keep it.
    wanted = {("a_b", "c"): "a_b_c", ("a", "b_c"): "a_b_c"}
    table = assign_names(wanted)
    assert sorted(table.forward.values())[0] == "a_b_c"
    assert len(set(table.forward.values())) == 2
    assert table.resolve("a_b_c") == ("a", "b_c")  # fixed order: the smaller key wins


def test_shortened_name_never_steals_a_natural_one() -> None:
    long_key = ("s", "x" * 80)
    natural = "s_" + "x" * 53 + "_" + short_hash("s\x00" + "x" * 80)
    assert len(natural) == MAX_NAME_LEN
    wanted = {long_key: namespaced(*long_key), ("s", natural[2:]): natural}
    table = assign_names(wanted)
    assert table.public("s", natural[2:]) == natural
    assert table.public(*long_key) != natural
    assert is_valid_name(table.public(*long_key))


def test_empty_name_still_gets_a_valid_name() -> None:
    table = assign_names({("s", ""): ""})
    assert is_valid_name(table.public("s", ""))
