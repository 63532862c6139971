"""`engine.selection` without a server: which queries show `codemode.portal`, and the texts
an agent gets for a server turned off for its client."""

from __future__ import annotations

from engine.selection import disabled_note, disabled_tool_message, portal_found


def test_a_query_about_choosing_servers_finds_the_portal_methods() -> None:
    for query in ("disable my Jira server", "Enable the wiki server", "list servers"):
        assert "disable(id: string)" in portal_found(query), query
    for query in ("how the server is built", "list recent commits", "disable the alarm", ""):
        assert portal_found(query) == "", query


def test_the_texts_name_the_server_and_how_to_turn_it_on() -> None:
    said = disabled_tool_message("jira_search", "jira")
    assert "'jira'" in said and "disabled for this client" in said
    assert '{"action": "enable", "server": "jira"}' in said
    assert 'codemode.portal.enable("jira")' in said
    assert disabled_note(frozenset()) == ""
    assert "jira, wiki" in disabled_note(frozenset({"wiki", "jira"}))
