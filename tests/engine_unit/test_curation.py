from __future__ import annotations

from typing import Any

from mcp_types import Prompt, PromptArgument, Tool

from engine.config import Config, PortalServerRef, PromptOverride, ServerConfig, ToolOverride
from engine.curation import ServerCatalog, UnmatchedOverride, curate, curate_portal
from engine.naming import is_valid_name

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"timezone": {"type": "string"}},
    "required": ["timezone"],
}


def tool(name: str, description: str | None = "upstream text") -> Tool:
    return Tool(
        name=name,
        description=description,
        input_schema=SCHEMA,
        output_schema={"type": "object"},
    )


def server(id: str = "time", **kw: Any) -> ServerConfig:
    return ServerConfig(id=id, command="x", **kw)


def catalog(
    srv: ServerConfig,
    tools: list[Tool],
    ref: PortalServerRef | None = None,
    prompts: list[Prompt] | None = None,
) -> ServerCatalog:
    return ServerCatalog(
        server=srv,
        portal_ref=ref or PortalServerRef(server_id=srv.id),
        tools=tools,
        prompts=prompts or [],
    )


def test_no_overrides_namespaces_and_keeps_upstream_texts() -> None:
    cur = curate([catalog(server(), [tool("get_current_time"), tool("convert_time", None)])])
    assert [t.name for t in cur.tools] == ["time_get_current_time", "time_convert_time"]
    first = cur.tools[0]
    assert first.enabled and first.upstream_name == "get_current_time"
    assert first.description == "upstream text"
    assert first.tool.name == "time_get_current_time"
    assert first.tool.input_schema == SCHEMA and first.output_schema == {"type": "object"}
    assert first.upstream.name == "get_current_time"
    assert cur.tools[1].description == "" and cur.tools[1].tool.description is None
    assert cur.tool("time_convert_time") is cur.tools[1]
    assert cur.tool("convert_time") is None


def test_default_disabled_server_and_portal_override() -> None:
    srv = server(default_disabled=True)
    cur = curate([catalog(srv, [tool("a")])])
    assert not cur.tools[0].enabled and cur.enabled_tools == []
    assert cur.tool("time_a") is None  # disabled: not callable by name either
    # The portal's reference can turn the default back on for that portal only.
    cur = curate(
        [catalog(srv, [tool("a")], PortalServerRef(server_id="time", default_disabled=False))]
    )
    assert cur.tools[0].enabled


def test_explicit_enabled_beats_default_and_portal_beats_server() -> None:
    srv = server(
        default_disabled=True,
        updated_tools=[
            ToolOverride(name="a", enabled=True),
            ToolOverride(name="b", enabled=True),
            ToolOverride(name="c", enabled=False),
        ],
    )
    ref = PortalServerRef(
        server_id="time",
        updated_tools=[ToolOverride(name="b", enabled=False), ToolOverride(name="c", enabled=True)],
    )
    cur = curate([catalog(srv, [tool("a"), tool("b"), tool("c"), tool("d")], ref)])
    assert {t.upstream_name: t.enabled for t in cur.tools} == {
        "a": True,
        "b": False,
        "c": True,
        "d": False,
    }


def test_alias_and_description_precedence() -> None:
    srv = server(
        updated_tools=[
            ToolOverride(name="a", server_alias="srv_a", server_description="server says a"),
            ToolOverride(name="b", server_alias="srv_b", server_description="server says b"),
        ]
    )
    ref = PortalServerRef(
        server_id="time",
        updated_tools=[
            ToolOverride(name="b", portal_alias="portal_b", portal_description="portal says b")
        ],
    )
    cur = curate([catalog(srv, [tool("a"), tool("b"), tool("c")], ref)])
    by_upstream = {t.upstream_name: t for t in cur.tools}
    assert by_upstream["a"].name == "time_srv_a"
    assert by_upstream["a"].description == "server says a"
    assert by_upstream["b"].name == "time_portal_b"
    assert by_upstream["b"].description == "portal says b"
    assert by_upstream["b"].tool.description == "portal says b"
    assert by_upstream["c"].name == "time_c"
    # Exact mapping back to the upstream name, whatever the alias.
    assert cur.tool_names.resolve("time_portal_b") == ("time", "b")
    assert cur.tool("time_portal_b") is by_upstream["b"]
    assert cur.tool("time_b") is None


def test_portal_alias_on_a_server_level_entry_still_beats_server_alias() -> None:
    srv = server(updated_tools=[ToolOverride(name="a", portal_alias="p", server_alias="s")])
    assert curate([catalog(srv, [tool("a")])]).tools[0].name == "time_p"


def test_alias_clashing_with_another_upstream_name_keeps_both_distinct() -> None:
    srv = server(updated_tools=[ToolOverride(name="a", server_alias="b")])
    cur = curate([catalog(srv, [tool("a"), tool("b")])])
    names = [t.name for t in cur.tools]
    assert len(set(names)) == 2 and all(is_valid_name(n) for n in names)
    for t in cur.tools:
        assert cur.tool(t.name) is t


def test_names_are_unique_across_servers() -> None:
    cur = curate(
        [
            catalog(server("a_b"), [tool("c")]),
            catalog(server("a"), [tool("b_c")]),
            catalog(server("long"), [tool("x" * 100), tool("weird name/with.chars")]),
        ]
    )
    names = [t.name for t in cur.tools]
    assert len(set(names)) == len(names)
    assert all(is_valid_name(n) for n in names)
    assert {cur.tool_names.resolve(n) for n in names} == {
        ("a_b", "c"),
        ("a", "b_c"),
        ("long", "x" * 100),
        ("long", "weird name/with.chars"),
    }


def test_enabling_a_tool_does_not_rename_others() -> None:
    tools = [tool("a"), tool("b")]
    srv_off = server(updated_tools=[ToolOverride(name="a", server_alias="b", enabled=False)])
    srv_on = server(updated_tools=[ToolOverride(name="a", server_alias="b", enabled=True)])
    off = {t.upstream_name: t.name for t in curate([catalog(srv_off, tools)]).tools}
    on = {t.upstream_name: t.name for t in curate([catalog(srv_on, tools)]).tools}
    assert off == on


def test_unmatched_overrides_are_reported() -> None:
    srv = server(updated_tools=[ToolOverride(name="gone", enabled=False)])
    ref = PortalServerRef(
        server_id="time", updated_prompts=[PromptOverride(name="nope", enabled=True)]
    )
    cur = curate([catalog(srv, [tool("a")], ref)])
    assert cur.unmatched == [
        UnmatchedOverride("time", "tool", "gone", "server"),
        UnmatchedOverride("time", "prompt", "nope", "portal"),
    ]


def test_prompts_are_curated_like_tools() -> None:
    prompts = [
        Prompt(
            name="greet",
            description="Say hello",
            arguments=[PromptArgument(name="who", required=True)],
        ),
        Prompt(name="hidden"),
    ]
    srv = server(
        updated_prompts=[PromptOverride(name="hidden", enabled=False)],
    )
    ref = PortalServerRef(
        server_id="time",
        updated_prompts=[
            PromptOverride(name="greet", portal_alias="hello", portal_description="Hi")
        ],
    )
    cur = curate([catalog(srv, [], ref, prompts)])
    assert [(p.name, p.enabled) for p in cur.prompts] == [
        ("time_hello", True),
        ("time_hidden", False),
    ]
    hello = cur.prompt("time_hello")
    assert hello is not None and hello.upstream_name == "greet"
    assert hello.prompt.name == "time_hello" and hello.prompt.description == "Hi"
    assert hello.prompt.arguments == prompts[0].arguments
    assert cur.prompt("time_hidden") is None
    assert [p.name for p in cur.enabled_prompts] == ["time_hello"]


def test_tools_and_prompts_are_separate_namespaces() -> None:
    cur = curate([catalog(server(), [tool("x")], prompts=[Prompt(name="x")])])
    assert cur.tools[0].name == cur.prompts[0].name == "time_x"


def test_enabled_tools_list_is_stable_for_index_caching() -> None:
    cur = curate([catalog(server(), [tool("a")])])
    assert cur.enabled_tools is cur.enabled_tools


def test_curate_portal_from_config_skips_servers_without_lists() -> None:
    config = Config.from_dict(
        {
            "servers": [
                {"id": "time", "command": "x", "default_disabled": True},
                {"id": "git", "command": "y"},
                {"id": "down", "url": "http://127.0.0.1:9/mcp"},
            ],
            "portals": [
                {
                    "id": "p",
                    "servers": [
                        {"server_id": "git"},
                        {
                            "server_id": "time",
                            "updated_tools": [{"name": "now", "enabled": True}],
                        },
                        {"server_id": "down"},
                    ],
                }
            ],
        }
    )
    cur = curate_portal(
        config,
        config.portal("p"),
        tools={"time": [tool("now"), tool("later")], "git": [tool("git_log")]},
        prompts={"git": [Prompt(name="review")]},
    )
    # Portal order, the server in Error (absent from the lists) left out.
    assert [(t.name, t.enabled) for t in cur.tools] == [
        ("git_git_log", True),
        ("time_now", True),
        ("time_later", False),
    ]
    assert [p.name for p in cur.prompts] == ["git_review"]
