"""Resource curation and URI routing on in-memory lists: names kept or namespaced, reads and
subscriptions routed, disabled or hidden entries unreachable by any spelling."""

from __future__ import annotations

from typing import Any

import pytest
from mcp_types import Resource, ResourceTemplate

from engine.config import Config
from engine.resource_curation import (
    ResourceCuration,
    Route,
    RouteError,
    curate_portal_resources,
    split_qualified,
)


def config(**a_extra: Any) -> Config:
    return Config.from_dict(
        {
            "servers": [
                {"id": "a", "command": "a", **a_extra},
                {"id": "b", "command": "b"},
            ],
            "portals": [
                {
                    "id": "p",
                    "servers": [
                        {
                            "server_id": "a",
                            "updated_resources": [
                                {"name": "file:///a.txt", "portal_alias": "first"},
                                {"name": "nothing://here", "enabled": False},
                            ],
                        },
                        {"server_id": "b"},
                    ],
                }
            ],
        }
    )


def res(uri: str, name: str = "n") -> Resource:
    return Resource(uri=uri, name=name, description=f"about {uri}")


def tpl(template: str) -> ResourceTemplate:
    return ResourceTemplate(uri_template=template, name="t")


LISTS = {
    "a": [res("file:///a.txt", "a"), res("shared://x"), res("codemode://b/looks-qualified")],
    "b": [res("shared://x"), res("only-b://y")],
}
TEMPLATES = {"a": [tpl("notes://{id}"), tpl("docs://{+path}")], "b": [tpl("docs://{name}.md")]}


def curated(cfg: Config | None = None) -> ResourceCuration:
    cfg = cfg or config()
    return curate_portal_resources(cfg, cfg.portals[0], LISTS, TEMPLATES)


def test_uris_are_kept_unless_two_servers_share_one() -> None:
    c = curated()
    uris = [(r.server_id, r.uri) for r in c.resources]
    assert ("a", "file:///a.txt") in uris and ("b", "only-b://y") in uris
    assert ("a", "codemode://a/shared://x") in uris and ("b", "codemode://b/shared://x") in uris
    # An upstream URI in our own prefix form is always qualified, so it routes to its server.
    assert ("a", "codemode://a/codemode://b/looks-qualified") in uris
    assert c.route("codemode://a/codemode://b/looks-qualified") == Route(
        "a", "codemode://b/looks-qualified"
    )
    assert split_qualified("codemode://b/shared://x") == ("b", "shared://x")
    assert split_qualified("codemode://b") is None and split_qualified("file:///x") is None


def test_reads_route_by_prefix_uri_or_template() -> None:
    c = curated()
    assert c.route("codemode://b/shared://x") == Route("b", "shared://x")
    assert c.route("file:///a.txt") == Route("a", "file:///a.txt")
    assert c.route("codemode://a/file:///a.txt") == Route("a", "file:///a.txt")
    assert c.route("notes://42") == Route("a", "notes://42")
    assert c.route("codemode://a/notes://42") == Route("a", "notes://42")
    with pytest.raises(RouteError, match="unknown resource"):
        c.route("shared://x")  # namespaced: the bare URI is ambiguous, so it is not listed
    with pytest.raises(RouteError, match="unknown resource"):
        c.route("codemode://a/only-b://y")  # b's resource, asked of a


def test_a_uri_matching_templates_of_two_servers_asks_to_name_one() -> None:
    c = curated()
    assert c.route("docs://deep/file.txt") == Route("a", "docs://deep/file.txt")
    with pytest.raises(RouteError) as ambiguous:
        c.route("docs://readme.md")
    assert "codemode://a/docs://readme.md, codemode://b/docs://readme.md" in str(ambiguous.value)
    assert c.route("codemode://b/docs://readme.md") == Route("b", "docs://readme.md")


def test_curation_aliases_and_disables() -> None:
    c = curated(config(updated_resources=[{"name": "notes://{id}", "enabled": False}]))
    first = next(r for r in c.resources if r.upstream_uri == "file:///a.txt")
    assert first.resource.name == "first" and first.resource.description == "about file:///a.txt"
    assert [t.uri_template for t in c.enabled_templates] == ["docs://{+path}", "docs://{name}.md"]
    for uri in ("notes://42", "codemode://a/notes://42"):
        with pytest.raises(RouteError):
            c.route(uri)
    assert [(u.kind, u.name, u.level) for u in c.unmatched] == [
        ("resource", "nothing://here", "portal")
    ]


def test_default_disabled_hides_all_but_what_is_enabled() -> None:
    cfg = config(default_disabled=True, updated_resources=[{"name": "shared://x", "enabled": True}])
    c = curated(cfg)
    assert {(r.server_id, r.upstream_uri) for r in c.enabled_resources if r.server_id == "a"} == {
        ("a", "shared://x")
    }
    with pytest.raises(RouteError):
        c.route("file:///a.txt")
    # Disabled entries still take part in naming: enabling one never renames another.
    assert c.route("codemode://b/shared://x") == Route("b", "shared://x")


def test_restricted_to_some_servers_keeps_names_and_hides_the_rest() -> None:
    c = curated().restricted(frozenset({"b"}))
    assert {r.server_id for r in c.resources} == {"b"}
    assert c.route("codemode://b/shared://x") == Route("b", "shared://x")  # still qualified
    for uri in ("file:///a.txt", "codemode://a/shared://x", "notes://1"):
        with pytest.raises(RouteError, match="unknown resource"):
            c.route(uri)


def test_resource_curation_applies_on_reload_without_a_restart() -> None:
    from engine.reload import plan_reload

    running = config()
    new = config(updated_resources=[{"name": "shared://x", "enabled": False}])
    report = plan_reload(running, new)
    assert report.needs_restart == ()
    assert "servers[a].updated_resources" in report.applied
    c = curated(report.config)
    with pytest.raises(RouteError):
        c.route("codemode://a/shared://x")
