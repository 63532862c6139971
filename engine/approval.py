"""Human approval of chosen tools (`require_approval = true` in curation).

Before a call of such a tool leaves the host, `ToolCalls.call` builds an `ApprovalRequest`
(the tool, a readable summary of the arguments with DLP redaction applied, and a digest of
the exact arguments) and hands it to the caller's `Approver`. How the person is asked is the
serving layer's business (`engine.server.approvals`: form-mode elicitation on 2025-11-25
sessions, `InputRequiredResult` on 2026-07-28 requests); this module holds what both share:
the question, the answer's shape and how an answer is judged.

An approver returns when the person approved; otherwise it raises `ApprovalRefused` (the
call fails with a tool error the agent can read) or `ApprovalPending` (2026 era: the request
must end and come back with the person's answer).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Final, Protocol

APPROVE_FIELD: Final = "approve"
"""The one boolean field of the approval form."""

MAX_SUMMARY_CHARS: Final = 1200
"""The whole argument summary shown to the person, at most (the rest is cut with a note)."""

MAX_VALUE_CHARS: Final = 300
"""One top-level argument's value in the summary, at most."""

FORM_SCHEMA: Final[dict[str, Any]] = {
    "type": "object",
    "properties": {
        APPROVE_FIELD: {
            "type": "boolean",
            "title": "Approve this call",
            "description": "Tick to let the call go to the server; leave it to refuse.",
        }
    },
    "required": [APPROVE_FIELD],
}


@dataclass(frozen=True)
class ApprovalRequest:
    """One call waiting for a person's approval."""

    tool: str
    """The tool's client-visible name."""
    server: str
    summary: str
    """The arguments as a person reads them: redacted by DLP, bounded in length."""
    digest: str
    """SHA-256 of the exact arguments that will be sent: an answer is bound to them."""

    @property
    def message(self) -> str:
        return (
            f"An agent wants to call the tool {self.tool} (server {self.server}). "
            f"Allow this call?\n\nArguments:\n{self.summary}"
        )


class ApprovalRefused(Exception):
    """The call may not go: declined, cancelled, unanswered, or no way to ask."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ApprovalPending(Exception):
    """The person must be asked before the call can go, and only a new round of the request
    can carry their answer (2026-07-28 `InputRequiredResult`)."""

    def __init__(self, request: ApprovalRequest) -> None:
        super().__init__(f"approval of {request.tool} pending")
        self.request = request


class Approver(Protocol):
    """Asks the calling person about one call, through the client they called with."""

    async def __call__(self, request: ApprovalRequest) -> None:
        """Return when approved.

        Raises:
            ApprovalRefused: the person said no, did not answer in time, or cannot be asked.
            ApprovalPending: the answer needs another round of the client's request.
        """
        ...

    def halted(self) -> str | None:
        """Why no further upstream call may go for this request (a run that stopped to ask
        for approval), or None."""
        ...


def digest(arguments: Any) -> str:
    """The arguments' identity: canonical JSON, hashed (never shown, never logged)."""
    text = json.dumps(arguments, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def summary(arguments: dict[str, Any]) -> str:
    """`name: value` per top-level argument, each value compact JSON cut to MAX_VALUE_CHARS,
    the whole cut to MAX_SUMMARY_CHARS. Pass arguments already redacted by DLP."""
    if not arguments:
        return "(none)"
    lines = []
    for key, value in arguments.items():
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        lines.append(f"{key}: {_cut(text, MAX_VALUE_CHARS)}")
    return _cut("\n".join(lines), MAX_SUMMARY_CHARS)


def _cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text) - limit} more characters)"


def judge(request: ApprovalRequest, action: str, content: dict[str, Any] | None) -> None:
    """Return if an elicitation answer approves the call; raise `ApprovalRefused` naming
    what the person did otherwise."""
    if action == "accept" and content is not None and content.get(APPROVE_FIELD) is True:
        return
    what = {
        "accept": "declined",  # answered the form without ticking `approve`
        "decline": "declined",
        "cancel": "cancelled",
    }.get(action, "did not approve")
    raise ApprovalRefused(
        f"the person {what} the call of {request.tool}: it was not sent. Do not retry it "
        "unless they ask you to."
    )


class NoApprover:
    """For a caller nobody can be asked for (no client in reach): every approval refused."""

    def __init__(self, why: str) -> None:
        self.why = why

    async def __call__(self, request: ApprovalRequest) -> None:
        raise ApprovalRefused(f"{request.tool} needs a person's approval, and {self.why}")

    def halted(self) -> str | None:
        return None
