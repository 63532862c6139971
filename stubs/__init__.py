"""TypeScript declarations of `codemode.*` from MCP tool schemas, name sanitising, and
TypeScript-tolerant agent code.

    names = sanitize_names(["github_create-issue", "jira.search"])  # {original: js_name}
    text = declare(tools)              # mcp_types.Tool objects or tools/list dicts
    line = declare([tool], brief=True) # one-line signature, for search results
    js = strip_types(agent_code)       # fenced and/or TypeScript-annotated code -> JavaScript
    code = unfence(agent_code)         # only the markdown fence off (strip_types does it first)
    RESOURCES_DECLARATION              # the fixed declaration of codemode.resources
    PORTAL_DECLARATION                 # the fixed declaration of codemode.portal
"""

from stubs.declare import declare, declare_tool
from stubs.errors import StripError, StubsError, ToolSpecError
from stubs.names import HELPER_NAMES, RESERVED_NAMES, reverse_names, sanitize_name, sanitize_names
from stubs.portal import PORTAL_DECLARATION, PORTAL_METHODS
from stubs.resources import RESOURCE_METHODS, RESOURCES_DECLARATION
from stubs.strip import strip_types, unfence
from stubs.tokens import count_tokens

__all__ = [
    "HELPER_NAMES",
    "PORTAL_DECLARATION",
    "PORTAL_METHODS",
    "RESERVED_NAMES",
    "RESOURCES_DECLARATION",
    "RESOURCE_METHODS",
    "StripError",
    "StubsError",
    "ToolSpecError",
    "count_tokens",
    "declare",
    "declare_tool",
    "reverse_names",
    "sanitize_name",
    "sanitize_names",
    "strip_types",
    "unfence",
]
