"""What went wrong with an upstream server, said as `ErrorDetails` an operator can act on.

`describe_failure` turns any exception from a connection or a request into a cause that names
the server (`server_address`: its URL without credentials, or its command), whether the fault
is the server's (`is_upstream`) and whether trying again may help (`retryable`), with the
bearer token masked; `with_stderr_tail` adds a stdio server's last stderr lines, with the values
that came from `${VAR}`s masked. `session_gone` tells the one failure after which a request is
known not to have run, so that retrying it is safe.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import anyio
import httpx2
import mcp_types as types
from mcp.shared.exceptions import MCPError

from engine.config import ServerConfig
from engine.credentials import CredentialError, resolve_env
from engine.environment import CommandError
from engine.status import ErrorDetails


def public_url(url: str) -> str:
    """The URL without userinfo, query or fragment, which may carry credentials."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def server_address(config: ServerConfig) -> str:
    """The server as error causes name it: its public URL, or its command."""
    if config.url:
        return public_url(config.url)
    return f"command {config.command}"


def leaf_error(exc: BaseException) -> BaseException:
    """The first real error inside nested exception groups (task groups wrap transport errors)."""
    while isinstance(exc, BaseExceptionGroup):
        inner = [e for e in exc.exceptions if not isinstance(e, anyio.get_cancelled_exc_class())]
        exc = (inner or list(exc.exceptions))[0]
    return exc


def session_gone(exc: BaseException, *, expired: bool) -> bool:
    """The request failed because the server forgot our session, so it never ran there.

    Either the server's 404 for our session id (`expired`: the connection saw that 404), or our
    own teardown of that dead session under a request in flight. Only then is a retry safe for
    a tool that is not idempotent.
    """
    leaf = leaf_error(exc)
    return (
        expired
        and isinstance(leaf, MCPError)
        and leaf.code in (types.INVALID_REQUEST, types.CONNECTION_CLOSED)
    )


def describe_failure(
    exc: BaseException, config: ServerConfig, *, http_status: int | None, secret: str
) -> ErrorDetails:
    """`classify_failure` of the real error inside `exc`, with `secret` (the bearer token,
    when one was read) masked in the cause."""
    details = classify_failure(leaf_error(exc), config, http_status)
    if secret and secret in details.cause:
        details = details.model_copy(update={"cause": details.cause.replace(secret, "***")})
    return details


def classify_failure(
    exc: BaseException, config: ServerConfig, http_status: int | None
) -> ErrorDetails:
    """The details of one error (not a group) from talking to the server `config` describes.

    `http_status` is the last HTTP error status the connection saw (>= 400), or None: the SDK
    folds HTTP failures into JSON-RPC errors, so the status is recorded beside them.
    """
    where = server_address(config)
    code = exc.code if isinstance(exc, MCPError) else None
    if isinstance(exc, CredentialError | CommandError):
        return ErrorDetails(cause=str(exc), is_upstream=False, retryable=False)
    if http_status in (401, 403):
        ref = config.bearer_token_env or config.bearer_token_file
        hint = f"check the bearer token in {ref}" if ref else "the server requires credentials"
        return ErrorDetails(
            cause=f"{where} answered HTTP {http_status}: {hint}",
            is_upstream=True,
            mcp_code=code,
            status_code=http_status,
            retryable=False,
        )
    if isinstance(exc, MCPError):
        if code == types.CONNECTION_CLOSED:
            return ErrorDetails(
                cause=f"connection to {where} closed: {exc.message}",
                is_upstream=False,
                mcp_code=code,
                retryable=True,
            )
        if code == types.PARSE_ERROR:
            # The SDK's message is a multi-line pydantic dump; its first line says enough.
            first = exc.message.splitlines()[0] if exc.message else "unparseable"
            return ErrorDetails(
                cause=f"{where} sent a malformed JSON-RPC message ({first.rstrip(': ')})",
                is_upstream=True,
                mcp_code=code,
                status_code=http_status,
                retryable=False,
            )
        status_note = f" (HTTP {http_status})" if http_status else ""
        return ErrorDetails(
            cause=f"{where} answered with error {code}: {exc.message}{status_note}",
            is_upstream=True,
            mcp_code=code,
            status_code=http_status,
            retryable=http_status is not None and http_status >= 500,
        )
    if isinstance(exc, FileNotFoundError) and config.command:
        return ErrorDetails(
            cause=f"cannot start {config.command}: command not found",
            is_upstream=False,
            retryable=False,
        )
    if isinstance(exc, TimeoutError):  # before OSError, its base class
        return ErrorDetails(
            cause=f"{where} did not answer within connect_timeout_s={config.connect_timeout_s:g} s",
            is_upstream=False,
            retryable=True,
        )
    if isinstance(exc, httpx2.TransportError | OSError | anyio.BrokenResourceError):
        reason = str(exc) or type(exc).__name__
        return ErrorDetails(
            cause=f"cannot reach {where}: {reason}", is_upstream=False, retryable=True
        )
    return ErrorDetails(
        cause=f"{where}: {type(exc).__name__}: {exc}", is_upstream=True, retryable=False
    )


def with_stderr_tail(error: ErrorDetails, tail: str, config: ServerConfig) -> ErrorDetails:
    """`error` with a stdio server's last stderr lines (`tail`) added to its cause.

    Every value of the server's environment that came from a `${VAR}` may be a secret: it is
    masked in the tail.
    """
    if not tail:
        return error
    try:
        resolved = resolve_env(config)
    except CredentialError:
        resolved = {}
    for key, value in resolved.items():
        if value != config.env.get(key):  # came from a ${VAR}: may be a secret
            tail = tail.replace(value, "***")
    return error.model_copy(update={"cause": f"{error.cause}; stderr: {tail}"})


__all__ = [
    "classify_failure",
    "describe_failure",
    "leaf_error",
    "public_url",
    "server_address",
    "session_gone",
    "with_stderr_tail",
]
