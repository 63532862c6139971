"""Regenerate the README's screenshot of the homepage from the built-in demo.

    python scripts/homepage_screenshot.py                  # writes docs/homepage.png
    python scripts/homepage_screenshot.py --out /tmp/home.png --width 420

Starts `codemode serve` on the demo (this interpreter; 127.0.0.1:8787 as a newcomer sees it,
or a free port when 8787 is taken), waits until
every upstream server is Ready, screenshots the page in headless Chromium
(`scripts/homepage_screenshot.mjs`: npm playwright-core and $CHROMIUM_PATH or
/usr/bin/chromium), and stops the server. Needs `npm install` (playwright-core) and Chromium.
Exit status: 0 written, 1 failed (the reason on stderr).
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DRIVER = Path(__file__).with_name("homepage_screenshot.mjs")
READY_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 30.0
BROWSER_TIMEOUT_S = 120.0
POLL_S = 0.25


class ScreenshotError(RuntimeError):
    pass


DEFAULT_PORT = 8787
"""The port `codemode serve` uses by default, so the URLs in the picture are the reader's."""


def pick_port(preferred: int) -> int:
    """`preferred` when it is free on 127.0.0.1, else any free port (0: any free port)."""
    for port in (preferred, 0) if preferred else (0,):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            chosen: int = s.getsockname()[1]
            return chosen
    raise ScreenshotError("no free port on 127.0.0.1")


def _page(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            text: str = response.read().decode("utf-8")
            return text
    except (urllib.error.URLError, OSError):
        return None


def wait_until_ready(url: str, server: subprocess.Popen[bytes]) -> None:
    """Until the homepage answers and names no server Waiting; every server must be Ready."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise ScreenshotError(f"codemode serve exited with {server.returncode}")
        page = _page(url)
        if page is not None:
            states = dict(re.findall(r'data-server="([^"]+)" data-state="([^"]+)"', page))
            if states and "Waiting" not in states.values():
                not_ready = {k: v for k, v in states.items() if v != "Ready"}
                if not_ready:
                    raise ScreenshotError(f"demo servers not Ready: {not_ready}")
                return
        time.sleep(POLL_S)
    raise ScreenshotError(f"{url} not ready after {READY_TIMEOUT_S:g} s")


def stop(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is not None:
        return
    server.send_signal(signal.SIGTERM)
    try:
        server.wait(STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


@contextmanager
def serving_demo(port: int) -> Iterator[str]:
    """`codemode serve` on the demo at 127.0.0.1:`port`, every server Ready; yields its URL."""
    base = f"http://127.0.0.1:{port}/"
    argv = [sys.executable, "-m", "engine.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
    # The server's output goes to a file: a pipe nobody reads could fill up and stall it.
    with tempfile.TemporaryFile() as log:
        server = subprocess.Popen(
            argv, cwd=REPO, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            try:
                wait_until_ready(base, server)
            except ScreenshotError as exc:
                stop(server)
                log.seek(0)
                output = log.read().decode(errors="replace")[-2000:]
                raise ScreenshotError(f"{exc}\ncodemode serve said:\n{output}") from None
            yield base
        finally:
            stop(server)


def screenshot(url: str, out: Path, width: int) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        done = subprocess.run(
            ["node", str(DRIVER), url, str(out), str(width)],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=BROWSER_TIMEOUT_S,
            check=False,
        )
    except FileNotFoundError:
        raise ScreenshotError("node not found (install Node.js, then npm install)") from None
    if done.returncode != 0:
        raise ScreenshotError(f"browser failed:\n{done.stderr[-3000:]}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "homepage.png")
    parser.add_argument("--width", type=int, default=1000, help="viewport width in px (1000)")
    parser.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help=f"serve on this port if free, else on any free one ({DEFAULT_PORT}; 0: any)",
    )
    args = parser.parse_args(argv)
    os.environ.setdefault("CHROMIUM_PATH", "/usr/bin/chromium")
    if not Path(os.environ["CHROMIUM_PATH"]).exists():
        print(f"error: {os.environ['CHROMIUM_PATH']} not found; set CHROMIUM_PATH", file=sys.stderr)
        return 1
    try:
        with serving_demo(pick_port(args.port)) as url:
            screenshot(url, args.out, args.width)
    except ScreenshotError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {args.out} ({args.out.stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
