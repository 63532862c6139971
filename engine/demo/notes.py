"""A small notes MCP server bundled for the demo portal: state in memory, stdio transport.

    python -m engine.demo.notes

Tools: `add_note`, `list_notes`, `search_notes`, `get_note`, `delete_note`; prompt
`summarize_notes`. Built on the `mcp` SDK's `MCPServer`; each tool returns structured
content from its return annotation.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel


class Note(BaseModel):
    id: int
    title: str
    body: str
    tags: list[str]
    created: str
    """ISO 8601 time the note was added (UTC)."""


class NoteList(BaseModel):
    notes: list[Note]


class NoteNotFoundError(ToolError, LookupError):
    """No note has the id asked for; the message says which ids exist. As a ToolError the
    client gets this message (other exceptions reach it only as "Error executing tool")."""


@dataclass
class NoteBook:
    """The server's state: notes by id, ids counting from 1, never reused."""

    notes: dict[int, Note] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def add(self, title: str, body: str, tags: list[str]) -> Note:
        note = Note(
            id=next(self._ids),
            title=title,
            body=body,
            tags=sorted({t.strip().lower() for t in tags if t.strip()}),
            created=datetime.now(UTC).isoformat(timespec="seconds"),
        )
        self.notes[note.id] = note
        return note

    def get(self, note_id: int) -> Note:
        try:
            return self.notes[note_id]
        except KeyError:
            known = ", ".join(str(i) for i in self.notes) or "none"
            raise NoteNotFoundError(f"no note with id {note_id} (ids: {known})") from None

    def search(self, query: str) -> list[Note]:
        words = query.lower().split()
        return [
            n
            for n in self.notes.values()
            if all(w in f"{n.title} {n.body} {' '.join(n.tags)}".lower() for w in words)
        ]


def build_server(book: NoteBook | None = None) -> MCPServer:
    book = book if book is not None else NoteBook()
    server = MCPServer("notes", instructions="A notebook kept in memory while the server runs.")

    @server.tool()
    def add_note(title: str, body: str, tags: list[str] | None = None) -> Note:
        """Add a note with a title, a body and optional tags; returns the note with its id."""
        return book.add(title, body, tags or [])

    @server.tool()
    def list_notes(tag: str | None = None) -> NoteList:
        """List every note, or only the notes carrying `tag`, oldest first."""
        wanted = tag.strip().lower() if tag else None
        return NoteList(notes=[n for n in book.notes.values() if wanted in (None, *n.tags)])

    @server.tool()
    def search_notes(query: str) -> NoteList:
        """Notes whose title, body or tags contain every word of `query` (case-insensitive)."""
        return NoteList(notes=book.search(query))

    @server.tool()
    def get_note(id: int) -> Note:
        """One note by its id."""
        return book.get(id)

    @server.tool()
    def delete_note(id: int) -> Note:
        """Delete a note by its id; returns the deleted note."""
        note = book.get(id)
        del book.notes[id]
        return note

    @server.prompt()
    def summarize_notes(tag: str = "") -> str:
        """Ask the model to summarise the notes (optionally only those with a tag)."""
        which = f"the notes tagged {tag!r}" if tag else "all notes"
        return (
            f"Call list_notes{f'(tag={tag!r})' if tag else ''} and summarise {which} "
            "in three bullet points, citing note ids."
        )

    return server


def main() -> None:
    build_server().run("stdio")


if __name__ == "__main__":
    main()
