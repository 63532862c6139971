"""Tool catalogs for the benchmarks: the real recorded servers and seeded synthetic ones.

The real catalog is the `tools/list` output of six real MCP servers recorded by the stubs work
(tests/stubs/fixtures: everything, filesystem, memory, git, time, fetch; 51 tools).

Synthetic catalogs combine the parts real tools are made of, renamed into other products:
a server id (`github`, `jira`, `slack`, ...), a verb and an object make the name (in the naming
styles real servers use: `list_issues`, `list-issues`, `listIssues`), a description is written
from several phrasings per verb plus optional notes, and the input schema mixes the features
found in the real schemas (ids, enums, defaults, bounds, date-time formats, arrays of nested
objects), with a title, annotations and sometimes an output schema, as the real tools carry.
The average size per tool lands close to the real tools' (the context benchmark prints both).

Everything is drawn from `random.Random(seed)` in a fixed order, so a catalog is the same on
every run and machine, and a smaller catalog is a prefix of a larger one with the same seed.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mcp_types import Tool

from engine.config import PortalServerRef, ServerConfig
from engine.curation import ServerCatalog, curate
from engine.view import PortalView

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "stubs" / "fixtures"
REAL_SERVERS = ("everything", "filesystem", "memory", "git", "time", "fetch")
DEFAULT_SEED = 20261124

Catalog = dict[str, list[Tool]]
"""Tools by server id, in server order: what a portal's upstreams return from tools/list."""


def real_catalog() -> Catalog:
    """The six recorded real servers (51 tools)."""
    return {
        server: [
            Tool.model_validate(t)
            for t in json.loads((FIXTURES / f"{server}.json").read_text(encoding="utf-8"))
        ]
        for server in REAL_SERVERS
    }


def portal_view(catalog: Mapping[str, Sequence[Tool]]) -> PortalView:
    """The view a portal over these servers would have (all tools enabled, no overrides),
    built through the engine's own curation without starting any server."""
    catalogs = [
        ServerCatalog(
            server=ServerConfig(id=server, command="unused"),
            portal_ref=PortalServerRef(server_id=server),
            tools=tools,
            prompts=[],
        )
        for server, tools in catalog.items()
    ]
    return PortalView(curate(catalogs), list(catalog))


def merged(*catalogs: Mapping[str, Sequence[Tool]]) -> Catalog:
    out: Catalog = {}
    for catalog in catalogs:
        for server, tools in catalog.items():
            if server in out:
                raise ValueError(f"server id {server!r} appears in two catalogs")
            out[server] = list(tools)
    return out


def tool_count(catalog: Mapping[str, Sequence[Tool]]) -> int:
    return sum(len(tools) for tools in catalog.values())


# -- vocabulary ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Product:
    server: str
    label: str
    objects: tuple[str, ...]
    scope: tuple[tuple[str, str], ...]
    """Parameters every tool of the product takes (name, description)."""


PRODUCTS = (
    Product(
        "github",
        "GitHub",
        ("issue", "pull_request", "release", "workflow_run", "gist"),
        (
            ("owner", "Account or organisation that owns the repository."),
            ("repo", "Repository name without the owner."),
        ),
    ),
    Product(
        "gitlab",
        "GitLab",
        ("merge_request", "pipeline", "project", "snippet", "tag"),
        (("project_id", "Numeric id or URL-encoded path of the project."),),
    ),
    Product(
        "jira",
        "Jira",
        ("issue", "sprint", "board", "worklog", "epic"),
        (("project_key", "Key of the Jira project, e.g. PROJ."),),
    ),
    Product(
        "linear",
        "Linear",
        ("issue", "cycle", "team", "project", "label"),
        (("team_id", "Team the items belong to."),),
    ),
    Product(
        "slack",
        "Slack",
        ("message", "channel", "reaction", "user_group", "reminder"),
        (("workspace", "Slack workspace domain."),),
    ),
    Product(
        "discord",
        "Discord",
        ("message", "thread", "role", "member", "invite"),
        (("guild_id", "Id of the Discord server (guild)."),),
    ),
    Product("notion", "Notion", ("page", "database", "block", "comment", "template"), ()),
    Product(
        "confluence",
        "Confluence",
        ("space", "page", "attachment", "label", "blog_post"),
        (("space_key", "Key of the Confluence space."),),
    ),
    Product(
        "gdrive", "Google Drive", ("file", "folder", "permission", "revision", "shared_drive"), ()
    ),
    Product(
        "gmail",
        "Gmail",
        ("email", "draft", "label", "thread", "filter"),
        (("user_id", "Mailbox owner; 'me' for the signed-in user."),),
    ),
    Product(
        "calendar",
        "Google Calendar",
        ("event", "attendee", "calendar", "reminder", "free_busy_slot"),
        (("calendar_id", "Calendar to use; 'primary' for the user's own."),),
    ),
    Product("zoom", "Zoom", ("meeting", "recording", "webinar", "participant", "room"), ()),
    Product(
        "salesforce",
        "Salesforce",
        ("lead", "opportunity", "account", "contact", "case"),
        (("org", "Salesforce org alias."),),
    ),
    Product("hubspot", "HubSpot", ("contact", "deal", "company", "ticket", "campaign"), ()),
    Product(
        "stripe",
        "Stripe",
        ("customer", "invoice", "payment_intent", "subscription", "refund"),
        (("livemode", "Use live data instead of test data."),),
    ),
    Product(
        "shopify",
        "Shopify",
        ("product", "order", "inventory_item", "discount_code", "fulfillment"),
        (("shop", "Shop domain, e.g. example.myshopify.com."),),
    ),
    Product(
        "zendesk",
        "Zendesk",
        ("ticket", "macro", "agent", "satisfaction_rating", "view"),
        (("subdomain", "Zendesk subdomain of the account."),),
    ),
    Product("intercom", "Intercom", ("conversation", "contact", "article", "tag", "segment"), ()),
    Product(
        "datadog",
        "Datadog",
        ("monitor", "dashboard", "metric", "log_index", "slo"),
        (("site", "Datadog site, e.g. datadoghq.eu."),),
    ),
    Product(
        "sentry",
        "Sentry",
        ("issue", "event", "release", "alert_rule", "project"),
        (("organization_slug", "Slug of the Sentry organisation."),),
    ),
    Product(
        "pagerduty",
        "PagerDuty",
        ("incident", "schedule", "escalation_policy", "service", "on_call"),
        (),
    ),
    Product(
        "k8s",
        "Kubernetes",
        ("pod", "deployment", "service", "config_map", "cron_job"),
        (("namespace", "Kubernetes namespace."), ("context", "kubeconfig context to use.")),
    ),
    Product("docker", "Docker", ("container", "image", "volume", "network", "compose_project"), ()),
    Product(
        "s3",
        "Amazon S3",
        ("bucket", "object", "multipart_upload", "lifecycle_rule", "access_point"),
        (("region", "AWS region, e.g. eu-west-1."),),
    ),
    Product(
        "postgres",
        "PostgreSQL",
        ("table", "view", "index", "schema", "role"),
        (("database", "Database to connect to."),),
    ),
    Product(
        "mongodb",
        "MongoDB",
        ("collection", "document", "index", "cluster", "user"),
        (("database", "Database name."),),
    ),
    Product(
        "bigquery",
        "BigQuery",
        ("dataset", "table", "job", "routine", "reservation"),
        (("project", "Google Cloud project id."),),
    ),
    Product(
        "airtable",
        "Airtable",
        ("base", "table", "record", "field", "view"),
        (("base_id", "Id of the Airtable base (app...)."),),
    ),
    Product(
        "asana",
        "Asana",
        ("task", "project", "section", "portfolio", "goal"),
        (("workspace_gid", "Global id of the Asana workspace."),),
    ),
    Product("trello", "Trello", ("card", "board", "list", "checklist", "member"), ()),
    Product(
        "figma",
        "Figma",
        ("file", "component", "comment", "style", "variable"),
        (("file_key", "Key of the Figma file, from its URL."),),
    ),
    Product(
        "twilio",
        "Twilio",
        ("sms_message", "call", "phone_number", "conversation", "verification"),
        (("account_sid", "Twilio account SID."),),
    ),
    Product(
        "sendgrid",
        "SendGrid",
        ("template", "contact_list", "campaign", "sender", "suppression"),
        (),
    ),
    Product(
        "weather",
        "OpenWeather",
        ("forecast", "alert", "station", "observation", "air_quality_report"),
        (("units", "metric, imperial or standard."),),
    ),
    Product(
        "maps",
        "Google Maps",
        ("route", "place", "geocode", "distance_matrix", "elevation_profile"),
        (),
    ),
    Product(
        "workday",
        "Workday",
        ("employee", "time_off_request", "payroll_run", "performance_review", "department"),
        (),
    ),
    Product(
        "circleci",
        "CircleCI",
        ("pipeline", "job", "artifact", "context", "insight"),
        (("project_slug", "vcs/org/repo slug of the project."),),
    ),
    Product(
        "vercel",
        "Vercel",
        ("deployment", "domain", "env_var", "project", "log_drain"),
        (("team_id", "Vercel team, if not the personal account."),),
    ),
    Product(
        "cloudflare",
        "Cloudflare",
        ("zone", "dns_record", "worker", "firewall_rule", "page_rule"),
        (("account_id", "Cloudflare account id."),),
    ),
    Product(
        "snowflake",
        "Snowflake",
        ("warehouse", "query", "stage", "stream", "task"),
        (("role", "Role to assume for the session."),),
    ),
)

# Per verb: several phrasings (real servers word the same action differently), read-only or not.
VERBS: dict[str, tuple[bool, tuple[str, ...]]] = {
    "list": (
        True,
        (
            "List {os} in {p}.",
            "Returns a paginated list of {os} from {p}, newest first.",
            "Lists all {os} the authenticated user can see in {p}. Supports filters and paging.",
        ),
    ),
    "get": (
        True,
        (
            "Get a single {o} from {p} by id.",
            "Retrieves the full details of one {o} in {p}, including metadata and timestamps.",
            "Fetch one {o} from {p}. Fails if the id does not exist or you lack access.",
        ),
    ),
    "create": (
        False,
        (
            "Create a new {o} in {p}.",
            "Creates a {o} in {p} and returns it with its generated id.",
            "Adds a new {o} to {p}. Fields not given take the {p} defaults.",
        ),
    ),
    "update": (
        False,
        (
            "Update an existing {o} in {p}. Only the given fields change.",
            "Modifies fields of a {o} in {p} (partial update).",
            "Patch a {o} in {p}; send only the fields to change.",
        ),
    ),
    "delete": (
        False,
        (
            "Delete a {o} from {p}. This cannot be undone.",
            "Permanently removes a {o} from {p}.",
            "Deletes the {o} with the given id from {p}; returns nothing on success.",
        ),
    ),
    "search": (
        True,
        (
            "Search {os} in {p} with a free-text query.",
            "Full-text search over {os} in {p}; supports the {p} query syntax.",
            "Find {os} in {p} whose fields match the given text and filters.",
        ),
    ),
    "export": (
        True,
        (
            "Export {os} from {p} as CSV or JSON.",
            "Exports {os} from {p} for a date range into a downloadable file.",
        ),
    ),
    "archive": (
        False,
        (
            "Archive a {o} in {p} so it no longer shows in default lists.",
            "Moves a {o} in {p} to the archive; it can be restored later.",
        ),
    ),
    "count": (
        True,
        (
            "Count {os} in {p} matching a filter.",
            "Returns how many {os} in {p} match the given filters, without listing them.",
        ),
    ),
    "sync": (
        False,
        (
            "Synchronise {os} between {p} and the local cache.",
            "Pulls the latest {os} from {p} and refreshes cached copies.",
        ),
    ),
    "assign": (
        False,
        (
            "Assign a {o} in {p} to a user.",
            "Sets the owner of a {o} in {p}; pass an empty assignee to unassign.",
        ),
    ),
    "restore": (False, ("Restore an archived or deleted {o} in {p}.",)),
}

NOTES = (
    "Requires a token with the {scope} scope.",
    "Rate limited to 100 requests per minute per token.",
    "Results are eventually consistent and may lag a few seconds behind edits.",
    "Dates are ISO 8601 in UTC.",
    "Only works on resources the configured account can access.",
    "Use the cursor from the previous response to get the next page.",
    "Large results are truncated; narrow the filters to see more.",
)
FIELD_WORDS = (
    "name",
    "title",
    "description",
    "status",
    "owner",
    "due_date",
    "priority",
    "tags",
    "url",
    "notes",
    "color",
    "visibility",
    "external_id",
    "parent_id",
)
STATUSES = ("open", "in_progress", "blocked", "done", "closed", "draft", "active", "archived")
SORTS = ("created_at", "updated_at", "name", "priority", "relevance")


# -- generation ---------------------------------------------------------------------------------


def synthetic_catalog(count: int, seed: int = DEFAULT_SEED) -> Catalog:
    """`count` synthetic tools, grouped by server id in first-seen order."""
    if count < 0:
        raise ValueError(f"count must be >= 0, got {count}")
    out: Catalog = {}
    stream = _tools(random.Random(seed))
    for _ in range(count):
        server, tool = next(stream)
        out.setdefault(server, []).append(tool)
    return out


def _tools(rnd: random.Random) -> Iterator[tuple[str, Tool]]:
    """An endless stream of distinct (server id, tool); the same for the same seed.

    Every product x object x verb combination is used once before any repeats; a repeat goes
    to a numbered second instance of the product (`github2`), as portals with two accounts of
    one service have.
    """
    combos = [(p, o, v) for p in PRODUCTS for o in p.objects for v in VERBS]
    style_of = {
        p.server: rnd.choice(("snake", "snake", "snake", "kebab", "camel")) for p in PRODUCTS
    }
    round_no = 0
    while True:
        order = combos[:]
        rnd.shuffle(order)
        for product, obj, verb in order:
            server = product.server if round_no == 0 else f"{product.server}{round_no + 1}"
            yield server, _tool(rnd, product, obj, verb, style_of[product.server])
        round_no += 1


def _plural(word: str) -> str:
    if word.endswith(("s", "x", "ch", "sh")):
        return word + "es"
    if word.endswith("y") and word[-2:-1] not in "aeiou":
        return word[:-1] + "ies"
    return word + "s"


def _name(verb: str, obj: str, style: str) -> str:
    noun = _plural(obj) if verb in ("list", "search", "export", "count", "sync") else obj
    words = [verb, *noun.split("_")]
    if style == "kebab":
        return "-".join(words)
    if style == "camel":
        return words[0] + "".join(w.capitalize() for w in words[1:])
    return "_".join(words)


def _tool(rnd: random.Random, product: Product, obj: str, verb: str, style: str) -> Tool:
    read_only, phrasings = VERBS[verb]
    words = obj.replace("_", " ")
    description = rnd.choice(phrasings).format(o=words, os=_plural(words), p=product.label)
    for note in rnd.sample(NOTES, k=rnd.choice((0, 0, 1, 1, 2))):
        description += " " + note.format(
            scope=f"{product.server}:{'read' if read_only else 'write'}"
        )
    name = _name(verb, obj, style)
    data: dict[str, Any] = {
        "name": name,
        "description": description,
        "inputSchema": _input_schema(rnd, product, obj, verb),
    }
    if rnd.random() < 0.5:
        data["title"] = " ".join(w.capitalize() for w in name.replace("-", "_").split("_"))
    if rnd.random() < 0.7:
        data["annotations"] = {
            "readOnlyHint": read_only,
            "destructiveHint": verb in ("delete", "sync"),
            "idempotentHint": read_only or verb in ("update", "archive", "restore"),
            "openWorldHint": True,
        }
    if rnd.random() < 0.3:
        data["outputSchema"] = _output_schema(rnd, obj, verb)
    return Tool.model_validate(data)


def _prop(type_: str, description: str, **extra: Any) -> dict[str, Any]:
    return {"type": type_, "description": description, **extra}


def _input_schema(rnd: random.Random, product: Product, obj: str, verb: str) -> dict[str, Any]:
    words = obj.replace("_", " ")
    props: dict[str, Any] = {}
    required: list[str] = []
    for pname, pdesc in product.scope:
        props[pname] = _prop("string", pdesc)
        if rnd.random() < 0.7:
            required.append(pname)
    id_name = f"{obj}_id"
    if verb in ("get", "update", "delete", "archive", "assign", "restore"):
        props[id_name] = _prop("string", f"Id of the {words}.")
        if id_name not in required:  # `calendar_id` is both the scope and the object id
            required.append(id_name)
    if verb in ("list", "search", "count", "export"):
        _filters(rnd, props, words)
    if verb == "search":
        props["query"] = _prop("string", f"Text to look for in {_plural(words)}.", minLength=1)
        required.append("query")
    if verb in ("list", "search"):
        props["limit"] = _prop(
            "integer",
            "Maximum number of results per page.",
            minimum=1,
            maximum=100,
            default=rnd.choice((20, 25, 50)),
        )
        props["cursor"] = _prop("string", "Opaque cursor from a previous page.")
    if verb == "export":
        props["format"] = _prop(
            "string", "File format of the export.", enum=["csv", "json"], default="csv"
        )
    if verb in ("create", "update"):
        _fields(rnd, props, required if verb == "create" else [], words)
    if verb == "assign":
        props["assignee"] = _prop("string", "User id or email of the new owner.")
        required.append("assignee")
    if verb == "get" and rnd.random() < 0.5:
        props["include"] = {
            "type": "array",
            "description": "Related data to embed in the response.",
            "items": {
                "type": "string",
                "enum": rnd.sample(("comments", "history", "owner", "attachments", "stats"), k=3),
            },
        }
    if verb == "delete" and rnd.random() < 0.5:
        props["force"] = _prop("boolean", "Delete even if other items refer to it.", default=False)
    if verb == "sync":
        props["full"] = _prop(
            "boolean", "Resync everything instead of changes only.", default=False
        )
    schema: dict[str, Any] = {"type": "object", "properties": props}
    if required:
        schema["required"] = required
    if rnd.random() < 0.5:
        schema["additionalProperties"] = False
    return schema


def _filters(rnd: random.Random, props: dict[str, Any], words: str) -> None:
    if rnd.random() < 0.7:
        props["status"] = _prop(
            "string",
            f"Only {_plural(words)} in this state.",
            enum=rnd.sample(STATUSES, k=rnd.randint(2, 5)),
        )
    if rnd.random() < 0.6:
        props["updated_since"] = _prop(
            "string", "Only items changed after this time.", format="date-time"
        )
    if rnd.random() < 0.4:
        props["owner"] = _prop("string", "Only items owned by this user (id or email).")
    if rnd.random() < 0.5:
        props["sort"] = _prop(
            "string", "Field to sort by.", enum=rnd.sample(SORTS, k=3), default="updated_at"
        )
        props["order"] = _prop("string", "Sort direction.", enum=["asc", "desc"], default="desc")


def _fields(rnd: random.Random, props: dict[str, Any], required: list[str], words: str) -> None:
    chosen = rnd.sample(FIELD_WORDS, k=rnd.randint(2, 5))
    for i, field in enumerate(chosen):
        label = field.replace("_", " ")
        if field == "tags":
            props[field] = {
                "type": "array",
                "items": {"type": "string"},
                "description": f"Tags to set on the {words}.",
            }
        elif field == "due_date":
            props[field] = _prop("string", f"When the {words} is due.", format="date")
        elif field == "priority":
            props[field] = _prop("integer", "1 (highest) to 5 (lowest).", minimum=1, maximum=5)
        elif field in ("status", "visibility"):
            props[field] = _prop(
                "string", f"The {label} of the {words}.", enum=rnd.sample(STATUSES, k=3)
            )
        else:
            props[field] = _prop("string", f"The {label} of the {words}.")
        if i == 0:
            required.append(field)
    if rnd.random() < 0.3:  # nested list of objects, like filesystem's edits or memory's entities
        props["custom_fields"] = {
            "type": "array",
            "description": f"Extra fields of the {words}, as key/value pairs.",
            "items": {
                "type": "object",
                "properties": {
                    "key": {"type": "string", "description": "Field key."},
                    "value": {"type": "string", "description": "Field value."},
                },
                "required": ["key", "value"],
            },
        }


def _output_schema(rnd: random.Random, obj: str, verb: str) -> dict[str, Any]:
    item = {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "name": {"type": "string"},
            "created_at": {"type": "string", "format": "date-time"},
            "url": {"type": "string"},
        },
        "required": ["id"],
    }
    if verb in ("list", "search", "export", "sync"):
        return {
            "type": "object",
            "properties": {
                _plural(obj): {"type": "array", "items": item},
                "next_cursor": {"type": ["string", "null"]},
            },
            "required": [_plural(obj)],
        }
    if verb == "count":
        return {
            "type": "object",
            "properties": {"count": {"type": "integer"}},
            "required": ["count"],
        }
    return item
