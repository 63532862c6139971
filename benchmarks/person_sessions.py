"""What a person's own upstream session costs (`engine.person_sessions.PersonSessions`).

    python -m benchmarks.person_sessions

The test MCP server behind its real authorization server (npm oidc-provider, as in
tests/upstream_oauth), PEOPLE people each with their own token in a SQLite store. Measured:
each person's first call (opens their session: metadata discovery for the refresh, MCP
initialize), their next CALLS calls (the open session), and all people calling at once
(CONCURRENT calls each). Writes benchmarks/results/person_sessions.md.
"""

from __future__ import annotations

import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import anyio

from benchmarks.sandbox import machine
from engine.config import Config, ServerConfig
from engine.person_sessions import PersonSessions
from engine.store import open_store
from tests.upstream_oauth.harness import Protected, connect_person, protected_upstream

RESULTS = Path(__file__).resolve().parent / "results" / "person_sessions.md"
PEOPLE = 8
CALLS = 20
CONCURRENT = 25


def _ms(seconds: list[float], q: float) -> str:
    ordered = sorted(seconds)
    return f"{ordered[min(len(ordered) - 1, int(len(ordered) * q))] * 1000:.1f}"


async def measure(directory: Path, up: Protected) -> str:
    url = f"sqlite+aiosqlite:///{directory}/db"
    settings = Config.from_dict({"settings": {"database_url": url}}, base_dir=directory).settings
    server = ServerConfig(id="prot", url=up.url, auth_type="oauth")
    async with open_store(settings) as store:
        ids = []
        for n in range(PEOPLE):
            person = await store.people.sign_in("bench", f"p{n}", email=f"p{n}@example.com")
            await connect_person(store, up, person.id, f"p{n}")
            ids.append(person.id)
        pool = PersonSessions(store.upstream_tokens)
        first: list[float] = []
        later: list[float] = []

        async def call(person_id: int) -> float:
            started = time.perf_counter()
            await pool.call_tool(server, None, person_id, "", "whoami", {})
            return time.perf_counter() - started

        async with anyio.create_task_group() as tg:
            tg.start_soon(pool.run)
            for person_id in ids:
                first.append(await call(person_id))
                later += [await call(person_id) for _ in range(CALLS)]
            started = time.perf_counter()
            async with anyio.create_task_group() as burst:
                for person_id in ids:

                    async def many(person_id: int = person_id) -> None:
                        for _ in range(CONCURRENT):
                            await call(person_id)

                    burst.start_soon(many)
            rate = PEOPLE * CONCURRENT / (time.perf_counter() - started)
            still_open = len(pool)
            tg.cancel_scope.cancel()
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return "\n".join(
        [
            "## Per-person upstream sessions",
            "",
            f"{stamp}; {machine()}.",
            "",
            "| what | median ms | p95 ms |",
            "|---|---|---|",
            f"| a person's first call (opens the session) | {_ms(first, 0.5)} | "
            f"{_ms(first, 0.95)} |",
            f"| later calls on the open session | {_ms(later, 0.5)} | {_ms(later, 0.95)} |",
            "",
            f"{PEOPLE} people calling at once, {CONCURRENT} calls each: {rate:.0f} calls/s "
            f"({still_open} sessions open at the end).",
            "",
        ]
    )


def main() -> None:
    with tempfile.TemporaryDirectory() as name, protected_upstream(Path(name)) as up:
        text = anyio.run(measure, Path(name), up)
    RESULTS.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
