"""Hand-written tools whose schemas each exercise one JSON Schema feature (snapshot tests)."""

from __future__ import annotations

from typing import Any


def _tool(
    name: str, description: str, input_schema: Any, output_schema: Any = None
) -> dict[str, Any]:
    tool: dict[str, Any] = {"name": name, "description": description, "inputSchema": input_schema}
    if output_schema is not None:
        tool["outputSchema"] = output_schema
    return tool


def _deep(levels: int) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string"}
    for _ in range(levels):
        schema = {"type": "object", "properties": {"next": schema}, "required": ["next"]}
    return schema


CASES: dict[str, dict[str, Any]] = {
    "object_required_optional": _tool(
        "create_issue",
        "Create an issue in a repository.",
        {
            "type": "object",
            "properties": {
                "repo": {"type": "string", "description": "owner/name"},
                "title": {"type": "string"},
                "body": {"type": "string", "description": "Markdown body."},
                "draft": {"type": "boolean"},
            },
            "required": ["repo", "title", "labels"],
        },
    ),
    "arrays_and_tuples": _tool(
        "plot",
        "Plot points.",
        {
            "type": "object",
            "properties": {
                "points": {
                    "type": "array",
                    "items": {
                        "type": "array",
                        "prefixItems": [{"type": "number"}, {"type": "number"}],
                        "items": False,
                    },
                },
                "legacy_pair": {
                    "type": "array",
                    "items": [{"type": "string"}, {"type": "integer"}],
                },
                "range": {
                    "type": "array",
                    "prefixItems": [{"type": "number"}, {"type": "number"}],
                    "minItems": 1,
                },
                "header_then_rows": {
                    "type": "array",
                    "prefixItems": [{"type": "string"}],
                    "items": {"type": "number"},
                },
                "labels": {
                    "type": "array",
                    "items": {"anyOf": [{"type": "string"}, {"type": "number"}]},
                },
                "anything": {"type": "array"},
            },
            "required": ["points"],
        },
    ),
    "enum_and_const": _tool(
        "set_mode",
        "Set the mode.",
        {
            "type": "object",
            "properties": {
                "mode": {"type": "string", "enum": ["fast", "safe", 'it\'s "quoted"']},
                "level": {"enum": [1, 2, 3.5, -1]},
                "mixed": {"enum": ["auto", 0, True, None]},
                "kind": {"const": "fixed"},
                "shape": {"enum": [{"x": 1}, [1, 2]]},
            },
            "required": ["mode", "kind"],
        },
    ),
    "unions_any_of_one_of": _tool(
        "lookup",
        "Look up a user by id or by email.",
        {
            "type": "object",
            "properties": {
                "who": {
                    "oneOf": [
                        {
                            "type": "object",
                            "properties": {"id": {"type": "integer"}},
                            "required": ["id"],
                        },
                        {
                            "type": "object",
                            "properties": {"email": {"type": "string", "format": "email"}},
                            "required": ["email"],
                        },
                    ]
                },
                "limit": {
                    "anyOf": [{"type": "integer"}, {"type": "string", "pattern": "^[0-9]+$"}]
                },
            },
            "required": ["who"],
        },
    ),
    "all_of_intersection": _tool(
        "tag_item",
        "Tag an item.",
        {
            "type": "object",
            "properties": {
                "item": {
                    "allOf": [
                        {
                            "type": "object",
                            "properties": {"id": {"type": "string"}},
                            "required": ["id"],
                        },
                        {
                            "type": "object",
                            "properties": {"tags": {"type": "array", "items": {"type": "string"}}},
                        },
                    ]
                },
                "either_and": {
                    "allOf": [
                        {"anyOf": [{"type": "string"}, {"type": "number"}]},
                        {"not": {"const": 0}},
                    ]
                },
            },
            "required": ["item"],
        },
    ),
    "type_lists_and_nullable": _tool(
        "update",
        "Update a record.",
        {
            "type": "object",
            "properties": {
                "value": {"type": ["string", "number", "boolean"]},
                "note": {"type": ["string", "null"]},
                "owner": {"type": "string", "nullable": True},
                "list_or_null": {"type": ["array", "null"], "items": {"type": "string"}},
                "cleared": {"type": "null"},
            },
            "required": ["value"],
        },
    ),
    "additional_properties": _tool(
        "set_labels",
        "Set labels and metadata.",
        {
            "type": "object",
            "properties": {
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                "free": {"type": "object", "additionalProperties": True},
                "closed": {
                    "type": "object",
                    "properties": {"a": {"type": "string"}},
                    "additionalProperties": False,
                },
                "empty_closed": {"type": "object", "additionalProperties": False},
                "mixed": {
                    "type": "object",
                    "properties": {"name": {"type": "string"}, "count": {"type": "integer"}},
                    "required": ["name"],
                    "additionalProperties": {"type": "boolean"},
                },
                "any_object": {"type": "object"},
            },
        },
    ),
    "pattern_properties": _tool(
        "set_headers",
        "Set HTTP headers.",
        {
            "type": "object",
            "properties": {
                "headers": {
                    "type": "object",
                    "patternProperties": {
                        "^X-": {"type": "string"},
                        "^X-Count-": {"type": "integer"},
                    },
                    "additionalProperties": False,
                },
            },
            "required": ["headers"],
        },
    ),
    "refs_and_defs": _tool(
        "create_order",
        "Create an order.",
        {
            "type": "object",
            "$defs": {
                "Address": {
                    "type": "object",
                    "description": "A postal address.",
                    "properties": {
                        "street": {"type": "string"},
                        "city": {"type": "string"},
                        "zip": {"type": "string"},
                    },
                    "required": ["street", "city"],
                },
                "Date": {"type": "string", "format": "date"},
            },
            "definitions": {
                "Money": {
                    "type": "object",
                    "properties": {
                        "amount": {"type": "number"},
                        "currency": {"type": "string", "minLength": 3, "maxLength": 3},
                    },
                    "required": ["amount", "currency"],
                }
            },
            "properties": {
                "billing": {"$ref": "#/$defs/Address"},
                "shipping": {"$ref": "#/$defs/Address", "description": "Where to send it."},
                "total": {"$ref": "#/definitions/Money"},
                "deliver_on": {"$ref": "#/$defs/Date"},
                "external": {"$ref": "https://example.com/schemas/thing.json"},
                "dangling": {"$ref": "#/$defs/Missing"},
            },
            "required": ["billing", "total"],
        },
    ),
    "recursive": _tool(
        "save_tree",
        "Save a tree of categories.",
        {
            "type": "object",
            "$defs": {
                "Node": {
                    "type": "object",
                    "properties": {
                        "name": {"type": "string"},
                        "children": {"type": "array", "items": {"$ref": "#/$defs/Node"}},
                    },
                    "required": ["name"],
                },
            },
            "properties": {
                "root": {"$ref": "#/$defs/Node"},
                "parent": {"$ref": "#"},
            },
            "required": ["root"],
        },
        {
            "type": "object",
            "properties": {
                "saved": {"type": "integer", "minimum": 0},
                "tree": {"$ref": "#/properties/echo"},
                "echo": {"type": "object", "properties": {"again": {"$ref": "#"}}},
            },
            "required": ["saved"],
        },
    ),
    "format_default_constraints": _tool(
        "search_logs",
        "Search logs.",
        {
            "type": "object",
            "properties": {
                "since": {
                    "type": "string",
                    "format": "date-time",
                    "description": "Start of the window.",
                },
                "limit": {"type": "integer", "default": 50, "minimum": 1, "maximum": 500},
                "ratio": {
                    "type": "number",
                    "exclusiveMinimum": 0,
                    "exclusiveMaximum": 1,
                    "multipleOf": 0.01,
                },
                "query": {"type": "string", "pattern": "^[a-z]+$", "minLength": 2, "maxLength": 64},
                "hosts": {
                    "type": "array",
                    "items": {"type": "string", "format": "hostname"},
                    "minItems": 1,
                    "uniqueItems": True,
                },
                "old_flag": {"type": "boolean", "deprecated": True},
            },
        },
    ),
    "nested_descriptions": _tool(
        "send_message",
        "Send a message.\n\nMessages over 4 KB are split.",
        {
            "type": "object",
            "properties": {
                "to": {"type": "string", "description": "Recipient id."},
                "message": {
                    "type": "object",
                    "description": "The message.",
                    "properties": {
                        "text": {
                            "type": "string",
                            "description": "Plain text.\nMarkdown is not rendered.",
                        },
                        "attachments": {
                            "type": "array",
                            "description": "Files to attach.",
                            "items": {
                                "type": "object",
                                "properties": {
                                    "name": {"type": "string", "description": "File name."},
                                    "url": {"type": "string", "format": "uri"},
                                },
                                "required": ["url"],
                            },
                        },
                    },
                    "required": ["text"],
                },
            },
            "required": ["to", "message"],
        },
        {
            "type": "object",
            "description": "What was sent.",
            "properties": {
                "id": {"type": "string", "description": "Message id."},
                "parts": {"type": "integer", "description": "How many parts it was split into."},
            },
            "required": ["id", "parts"],
        },
    ),
    "quoted_property_names": _tool(
        "set_env",
        "Set environment values.",
        {
            "type": "object",
            "properties": {
                "content-type": {"type": "string"},
                "2fa": {"type": "boolean"},
                "with space": {"type": "string"},
                "$ok_id": {"type": "string"},
                "class": {
                    "type": "string",
                    "description": "Reserved words are fine as property names.",
                },
                'x"y': {"type": "string"},
            },
            "required": ["content-type"],
        },
    ),
    "comment_escape": _tool(
        "danger",
        "Ends a comment early: */ and then /* again.",
        {
            "type": "object",
            "properties": {
                "*/": {"type": "string", "description": "A key that ends a comment."},
                "glob": {
                    "type": "string",
                    "description": "A glob like src/**/*.ts",
                    "pattern": "^[^*]*/*$",
                },
                "nested": {
                    "type": "object",
                    "properties": {
                        "deep": {
                            "type": "string",
                            "description": "more */ trouble",
                            "default": "*/",
                        }
                    },
                },
            },
        },
    ),
    "depth_limit": _tool("deep", "A schema nested too deep.", _deep(20)),
    "unsupported_degrades": _tool(
        "odd",
        "Schemas with things we do not model.",
        {
            "type": "object",
            "properties": {
                "weird_type": {"type": "decimal"},
                "not_a_schema": 42,
                "conditional": {"if": {"type": "string"}, "then": {"minLength": 1}},
                "never": False,
                "always": True,
                "empty_enum": {"enum": []},
                "infinity": {"const": float("inf")},
            },
        },
    ),
    "no_input": _tool("ping", "Check the service is up.", {"type": "object", "properties": {}}),
    "renamed_tools": _tool(
        "github.create-issue v2",
        "A name that needs sanitising.",
        {"type": "object", "properties": {"title": {"type": "string"}}, "required": ["title"]},
    ),
    "global_type_names": _tool(
        "schedule",
        "Defs whose names are global TypeScript types.",
        {
            "type": "object",
            "$defs": {
                "Date": {"type": "string", "format": "date"},
                "Error": {"type": "object", "properties": {"code": {"type": "integer"}}},
                "Record": {"type": "object", "additionalProperties": {"type": "string"}},
            },
            "properties": {
                "on": {"$ref": "#/$defs/Date"},
                "last_error": {"$ref": "#/$defs/Error"},
                "meta": {"$ref": "#/$defs/Record"},
            },
            "required": ["on"],
        },
    ),
    "union_of_objects_output": _tool(
        "read_media",
        "Read a media file.",
        {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]},
        {
            "type": "object",
            "properties": {
                "content": {
                    "type": "array",
                    "items": {
                        "anyOf": [
                            {
                                "type": "object",
                                "properties": {
                                    "type": {"const": "image"},
                                    "data": {"type": "string", "contentEncoding": "base64"},
                                    "mimeType": {"type": "string"},
                                },
                                "required": ["type", "data", "mimeType"],
                            },
                            {
                                "type": "object",
                                "properties": {
                                    "type": {"const": "resource"},
                                    "resource": {
                                        "type": "object",
                                        "properties": {
                                            "uri": {"type": "string", "format": "uri"},
                                            "text": {"type": "string"},
                                        },
                                        "required": ["uri"],
                                    },
                                },
                                "required": ["type", "resource"],
                            },
                        ]
                    },
                }
            },
            "required": ["content"],
        },
    ),
}
