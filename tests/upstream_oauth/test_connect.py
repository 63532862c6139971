"""`codemode connect URL` against real OAuth parts: the test authorization server (npm
oidc-provider: dynamic registration, resource indicators, PKCE) and the MCP server it protects;
and what a person reads, with which exit code, when the authorization server is down, serves
garbage, refuses, or when a 401 comes with no metadata at all."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import httpx2

from engine.cli.exits import EXIT_FAILED, EXIT_OK, EXIT_UNAVAILABLE
from tests.upstream_oauth.harness import broken_server, protected_upstream
from tests.upstreams.harness import REPO, free_port

RUN_TIMEOUT_S = 120


def connect(*args: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "engine.cli", "connect", *args]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT_S)


def test_headless_registers_dynamically_and_lists_tools(tmp_path: Path) -> None:
    with protected_upstream(tmp_path, account="alice") as up:
        run = connect(up.url, "--headless", "--call", "whoami")
    assert run.returncode == EXIT_OK, run.stderr
    lines = run.stdout.splitlines()
    assert [line.split("\t")[0] for line in lines[:3]] == ["whoami", "echo", "meet"]
    assert lines[3] == "alice"  # the tool saw a token issued to alice, for this server


def test_loopback_callback_completes_when_the_browser_returns(tmp_path: Path) -> None:
    with protected_upstream(tmp_path, account="bob") as up:
        argv = [sys.executable, "-m", "engine.cli", "connect", up.url, "--call", "whoami"]
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        process = subprocess.Popen(
            argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        try:
            assert process.stderr is not None
            url = ""
            for _ in range(50):  # bounded: the URL comes within the first lines
                line = process.stderr.readline()
                if line.startswith("http"):
                    url = line.strip()
                    break
            redirect_uri = re.search(r"redirect_uri=([^&]+)", url)
            assert redirect_uri and "127.0.0.1" in httpx2.URL(url).params["redirect_uri"]
            # The person: a browser follows the URL; the AS approves and sends it back.
            page = httpx2.get(url, follow_redirects=True, timeout=30)
            assert page.status_code == 200 and "Connected" in page.text
            out, err = process.communicate(timeout=RUN_TIMEOUT_S)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    assert process.returncode == EXIT_OK, err
    assert out.splitlines()[-1] == "bob"


def test_refused_authorization_says_so(tmp_path: Path) -> None:
    with protected_upstream(tmp_path, account="deny") as up:
        run = connect(up.url, "--headless")
    assert run.returncode == EXIT_FAILED
    assert "authorization server refused: access_denied" in run.stderr
    assert "Traceback" not in run.stderr


def test_authorization_server_down(tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    with broken_server(tmp_path, "dead-as", dead) as url:
        run = connect(url, "--headless")
    assert run.returncode == EXIT_UNAVAILABLE
    assert f"cannot reach the authorization server at {dead}" in run.stderr


def test_garbage_metadata(tmp_path: Path) -> None:
    with broken_server(tmp_path, "garbage-as") as url:
        run = connect(url, "--headless")
    assert run.returncode == EXIT_FAILED
    assert "publishes no valid OAuth metadata" in run.stderr
    assert "Traceback" not in run.stderr


def test_401_without_metadata(tmp_path: Path) -> None:
    with broken_server(tmp_path, "no-metadata") as url:
        run = connect(url, "--headless")
    assert run.returncode == EXIT_FAILED
    assert "asks for authorization (HTTP 401) but publishes no OAuth metadata" in run.stderr


def test_client_secret_only_from_the_environment(tmp_path: Path) -> None:
    run = connect("http://127.0.0.1:9/mcp", "--client-id", "x", "--client-secret-env", "NOPE_X")
    assert run.returncode == 2 and "NOPE_X is not set" in run.stderr
