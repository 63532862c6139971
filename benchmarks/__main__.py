"""Run every benchmark and gather their tables for the README.

    python -m benchmarks                   # all of them
    python -m benchmarks context search    # some of them

Each benchmark runs in its own process (`python -m benchmarks.<name>`), so one's imports,
threads and memory do not colour another's figures, and writes its own
benchmarks/results/<name>.md. Then benchmarks/results/README-section.md is assembled from those
files, dated and with the machine described, for pasting into README's Performance section.
"""

from __future__ import annotations

import argparse
import importlib.util
import platform
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.sandbox import machine

RESULTS = Path(__file__).parent / "results"
SECTION = RESULTS / "README-section.md"
# In README order; latency needs the HTTP server and is skipped while it does not exist.
BENCHMARKS = ("context", "search", "latency", "sandbox", "stubs", "apply", "dlp", "scale")
IN_SECTION = ("context", "search", "latency", "sandbox")
_STAMP_LINE = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC; .*(Python [\d.]+\.|`\.)$")
_PLOT_LINK = re.compile(r"\]\(([\w-]+\.png)\)")
CUT_AT = {"search": "## Misses"}
"""Long detail left in the benchmark's own file, linked from the section."""


NEEDS = {"latency": "engine.server.app"}
"""Modules a benchmark needs that may not have landed yet."""


def available(name: str) -> bool:
    needed = [f"benchmarks.{name}", *([NEEDS[name]] if name in NEEDS else [])]
    return all(importlib.util.find_spec(module) is not None for module in needed)


def run(name: str) -> None:
    print(f"== python -m benchmarks.{name}", flush=True)
    subprocess.run([sys.executable, "-m", f"benchmarks.{name}"], check=True)


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def section_part(name: str, results: Path = RESULTS) -> str:
    """A benchmark's result file as a README subsection: headings two levels down, links
    rewritten to be relative to the repository root."""
    text = (results / f"{name}.md").read_text(encoding="utf-8")
    if name in CUT_AT and CUT_AT[name] in text:
        text = text.split(CUT_AT[name], 1)[0].rstrip() + (
            f"\n\nDetails: [benchmarks/results/{name}.md](benchmarks/results/{name}.md)."
        )
    lines = text.strip().splitlines()
    out = []
    for line in lines:
        if _STAMP_LINE.match(line):
            continue  # the section carries one date and machine line for all
        if line.startswith("#"):
            line = "##" + line
        out.append(_PLOT_LINK.sub(r"](benchmarks/results/\1)", line))
    return "\n".join(out)


def assemble(names: tuple[str, ...]) -> str:
    stamp = datetime.now(UTC).strftime("%Y-%m-%d")
    parts = [
        "## Performance",
        "",
        f"Measured {stamp} on {cpu_model()} ({machine()}), with `python -m benchmarks`; each",
        "benchmark also runs alone as `python -m benchmarks.<name>` and writes",
        "`benchmarks/results/<name>.md`. Declaration sizes: "
        "[benchmarks/results/stubs.md](benchmarks/results/stubs.md).",
    ]
    for name in names:
        if (RESULTS / f"{name}.md").exists():
            parts += ["", section_part(name)]
    return "\n".join(parts) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("names", nargs="*", help=f"any of {', '.join(BENCHMARKS)} (default: all)")
    args = parser.parse_args()
    unknown = sorted(set(args.names) - set(BENCHMARKS))
    if unknown:
        parser.error(
            f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}"
        )
    names = tuple(args.names) or BENCHMARKS
    for name in names:
        if available(name):
            run(name)
        else:
            print(f"== benchmarks.{name} is not there yet: skipped", flush=True)
    SECTION.write_text(assemble(tuple(n for n in IN_SECTION if available(n))), encoding="utf-8")
    print(f"== wrote {SECTION}")


if __name__ == "__main__":
    main()
