"""The `codemode.resources` namespace: the names the sandbox is given for it and its
TypeScript declaration (fixed text: it does not depend on what the servers list).

Inside code, `await codemode.resources.list()` gives the resources the caller may read,
`await codemode.resources.templates()` the URI templates, and
`await codemode.resources.read(uri)` one resource's contents: text as `text`, binary data as
`blob`, a base64 string (the sandbox has no byte arrays to give it as).
"""

from __future__ import annotations

from typing import Final

RESOURCES_SPACE: Final = "resources"
"""`codemode.resources`: reserved, so no tool is ever named like it."""

LIST: Final = "resources.list"
TEMPLATES: Final = "resources.templates"
READ: Final = "resources.read"
RESOURCE_METHODS: Final = (LIST, TEMPLATES, READ)
"""The names of the namespace's methods as the sandbox bridge sees them."""

RESOURCES_DECLARATION: Final = """\
/** One resource a server of this portal offers. */
interface CodemodeResource {
  /** Pass it to codemode.resources.read. */
  uri: string;
  name: string;
  title?: string;
  description?: string;
  mimeType?: string;
  /** The id of the server it comes from. */
  server: string;
}
/** A family of resources: fill in the {placeholders} (RFC 6570) and read the URI. */
interface CodemodeResourceTemplate {
  uriTemplate: string;
  name: string;
  title?: string;
  description?: string;
  mimeType?: string;
  server: string;
}
/** Text comes as `text`; binary data as `blob`, a base64 string. */
type CodemodeResourceContents =
  | { uri: string; mimeType?: string; text: string }
  | { uri: string; mimeType?: string; blob: string };
declare const codemode: {
  resources: {
    /** The resources you may read. */
    list(): Promise<CodemodeResource[]>;
    /** The resource templates you may read through. */
    templates(): Promise<CodemodeResourceTemplate[]>;
    /**
     * Read one resource: a listed URI, or one matching a template.
     * Rejects with an Error naming the cause for an unknown URI or a failing server.
     */
    read(uri: string): Promise<CodemodeResourceContents[]>;
  };
};
"""

__all__ = [
    "LIST",
    "READ",
    "RESOURCES_DECLARATION",
    "RESOURCES_SPACE",
    "RESOURCE_METHODS",
    "TEMPLATES",
]
