"""`codemode admin-token create|list|revoke`: the token is printed once, listed by name only,
revocable, and the store holds its SHA-256 digest, never the token."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest

from engine.cli.main import main


def test_create_list_revoke(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "admin.db"
    config = tmp_path / "c.toml"
    config.write_text(
        f'[admin]\n[settings]\nrequest_log_path = ":memory:"\n'
        f'database_url = "sqlite+aiosqlite:///{db}"\n'
    )
    args = ["--config", str(config)]
    assert main(["admin-token", "create", "ci", "--write", *args]) == 0
    token = capsys.readouterr().out.strip()
    assert token.startswith("cma_") and len(token) > 40
    assert main(["admin-token", "create", "viewer", *args]) == 0
    viewer = capsys.readouterr().out.strip()

    assert main(["admin-token", "list", *args]) == 0
    listed = capsys.readouterr().out
    assert "ci\twrite" in listed and "viewer\tread" in listed
    assert token not in listed and viewer not in listed

    with sqlite3.connect(db) as conn:
        rows = dict(conn.execute("SELECT name, sha256 FROM admin_tokens").fetchall())
        everything = repr(conn.execute("SELECT * FROM admin_tokens").fetchall())
    assert rows["ci"] == hashlib.sha256(token.encode()).hexdigest()
    assert token not in everything and viewer not in everything

    assert main(["admin-token", "create", "ci", *args]) == 2  # the name is taken
    assert "exists already" in capsys.readouterr().err
    assert main(["admin-token", "revoke", "ci", *args]) == 0
    assert main(["admin-token", "list", *args]) == 0
    assert "revoked" in capsys.readouterr().out.split("ci\twrite")[1].splitlines()[0]
    assert main(["admin-token", "revoke", "nobody", *args]) == 2
    assert main(["admin-token", "create", "env", *args]) == 2  # reserved
