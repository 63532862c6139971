"""`python -m benchmarks` gathers each benchmark's Markdown into one README section."""

from __future__ import annotations

from pathlib import Path

from benchmarks.__main__ import available, section_part

SAMPLE = """# Tool-search quality

2026-11-24 11:45 UTC; x86_64, 2 cores, 24 GiB RAM, Python 3.11.7. Written by `x`.

| a | b |
|---|---|

![recall at k](search.png)

## Misses of `query`

| long | table |
"""


def test_section_part_demotes_headings_drops_the_stamp_and_fixes_links(tmp_path: Path) -> None:
    (tmp_path / "search.md").write_text(SAMPLE)
    part = section_part("search", tmp_path)
    assert part.startswith("### Tool-search quality")
    assert "UTC;" not in part
    assert "](benchmarks/results/search.png)" in part
    assert "Misses" not in part
    assert part.endswith("(benchmarks/results/search.md).")


def test_latency_needs_the_http_app() -> None:
    assert available("context")
    assert not available("no_such_benchmark")
    assert available("latency")  # engine.server.app has landed
