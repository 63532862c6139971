"""`mcp-server-git` on a throwaway repository, for the demo portal.

    python -m engine.demo.gitrepo

Creates a git repository with a few commits in a temporary directory, serves `mcp-server-git`
on it over stdio (working directory: the repository, so `repo_path: "."` names it), and
removes the directory when the server ends (stdin closed, SIGTERM or Ctrl-C). Each start gets
a fresh repository, so nothing the demo does outlives it.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from types import FrameType

_AUTHOR = {
    "GIT_AUTHOR_NAME": "Demo Author",
    "GIT_AUTHOR_EMAIL": "demo@example.invalid",
    "GIT_COMMITTER_NAME": "Demo Author",
    "GIT_COMMITTER_EMAIL": "demo@example.invalid",
}

_README = "# Demo project\n\nA repository for the demo.\n"
_HISTORY: list[tuple[str, dict[str, str]]] = [
    ("Start the demo project", {"README.md": _README}),
    (
        "Add a greeting module",
        {"greet.py": 'def greet(name: str) -> str:\n    return f"Hello, {name}!"\n'},
    ),
    (
        "Document the greeting",
        {"README.md": _README + "\n`greet(name)` says hello.\n"},
    ),
]


class RepoError(RuntimeError):
    """The demo repository could not be created (git missing or failing)."""


def _git(repo: Path, *args: str) -> None:
    # The user's git config (signing, hooks) must not change or break the demo history.
    env = {**os.environ, **_AUTHOR, "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull}
    try:
        subprocess.run(
            ["git", "-C", str(repo), *args], check=True, env=env, capture_output=True, text=True
        )
    except FileNotFoundError:
        raise RepoError("the demo git server needs the `git` program; install git") from None
    except subprocess.CalledProcessError as exc:
        raise RepoError(f"git {args[0]} failed: {exc.stderr.strip()}") from None


def make_repository(repo: Path) -> Path:
    """Initialise `repo` (an empty directory) with the demo history; return it."""
    repo.mkdir(parents=True, exist_ok=True)
    _git(repo, "-c", "init.defaultBranch=main", "init", "-q")
    for message, files in _HISTORY:
        for name, text in files.items():
            (repo / name).write_text(text, encoding="utf-8")
        _git(repo, "add", ".")
        _git(repo, "commit", "-q", "-m", message)
    return repo


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    # Unwind normally so the temporary directory is removed.
    raise SystemExit(0)


def main() -> None:
    from mcp_server_git.server import serve

    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    with tempfile.TemporaryDirectory(prefix="codemode-demo-") as tmp:
        try:
            repo = make_repository(Path(tmp) / "repo")
        except RepoError as exc:
            print(f"engine.demo.gitrepo: {exc}", file=sys.stderr)
            raise SystemExit(1) from None
        # Tools take a repo_path; with the repository as working directory "." names it.
        os.chdir(repo)
        try:
            asyncio.run(serve(repo))
        except KeyboardInterrupt:
            pass
        finally:
            os.chdir(tmp)


if __name__ == "__main__":
    main()
