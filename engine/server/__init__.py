"""Serving portals: the HTTP app and its routes, the MCP server per (portal, surface), the
homepage, the admin API, stdio, and the process that runs them (`serve`).

Everything here is built on the embeddable core (`engine`), which never imports this package
(an import-linter contract in pyproject.toml keeps it so).
"""
