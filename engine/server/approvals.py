"""How a person is asked to approve a `require_approval` call, per protocol era.

- 2025-11-25 sessions (`Eliciting`): a form-mode `elicitation/create` on the request's own
  stream, with one boolean field `approve`, waited for up to `approval_timeout_s`. Inside a
  `code` run the `codemode.*` call simply waits; the run's wall-clock limit still applies.
- 2026-07-28 requests (`Rounds`): there is no server-to-client request. The first round
  answers the `tools/call` with an `InputRequiredResult` carrying the same form as an
  `ElicitRequest`, and a `request_state` naming the person, the tool, the digest of the exact
  arguments and a fresh nonce (the SDK's `RequestStateBoundary` seals it and binds it to the
  request and the person). The client retries the same request with the answer; that one
  call is then approved (or refused) once. A nonce is accepted once (`Ledger`), so a replayed
  retry is refused, and a state whose person is not the caller is refused.

Inside a 2026-era `code` run the same holds for the whole run: the first call that needs
approval stops every further upstream call of the run (`halted`), the run's result is
replaced by the `InputRequiredResult`, and the retry runs the code again with the answers
gathered so far, each usable once for the same tool and arguments. Calls the code made
before the approved one are made again on the retry (see README, "Human approval").
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

import anyio
import mcp_types as types
from mcp.server.context import ServerRequestContext
from mcp.server.request_state import RequestStateBoundary, RequestStateSecurity
from mcp.shared.exceptions import MCPError
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from pydantic import ValidationError

from engine.approval import (
    FORM_SCHEMA,
    ApprovalPending,
    ApprovalRefused,
    ApprovalRequest,
    judge,
)

INPUT_KEY: Final = "approve"
"""The key of the approval question in `InputRequiredResult.input_requests`."""

STATE_TTL_S: Final = 600.0
"""How long a 2026-era approval question stays answerable at most (the sealed state's life)."""

MAX_LEDGER: Final = 100_000
"""Nonces remembered at most; the oldest are forgotten first (they expire anyway)."""

Ctx = ServerRequestContext[Any, Any]


def can_elicit_form(capabilities: types.ClientCapabilities | None) -> bool:
    """Whether the client declared form elicitation (a bare `elicitation: {}` counts, as the
    spec had no modes before 2025-11-25)."""
    elicitation = capabilities.elicitation if capabilities is not None else None
    return elicitation is not None and (elicitation.form is not None or elicitation.url is None)


def _cannot_ask(request: ApprovalRequest) -> ApprovalRefused:
    return ApprovalRefused(
        f"{request.tool} needs a person's approval, and this MCP client cannot ask them (it "
        "declared no form elicitation capability). Use a client that supports elicitation; "
        "the call was not sent."
    )


class Eliciting:
    """2025-11-25: ask over the session with `elicitation/create`, wait for the answer."""

    def __init__(self, ctx: Ctx, timeout_s: float) -> None:
        self.ctx = ctx
        self.timeout_s = timeout_s

    async def __call__(self, request: ApprovalRequest) -> None:
        session = self.ctx.session
        if not can_elicit_form(session.client_capabilities):
            raise _cannot_ask(request)
        try:
            with anyio.fail_after(self.timeout_s):
                answer = await session.elicit_form(
                    request.message, FORM_SCHEMA, related_request_id=self.ctx.request_id
                )
        except TimeoutError:
            raise ApprovalRefused(
                f"nobody approved the call of {request.tool} within {self.timeout_s:g} s: it "
                "was not sent"
            ) from None
        except MCPError as exc:
            raise ApprovalRefused(
                f"the client could not ask about {request.tool} ({exc.error.message}): the "
                "call was not sent"
            ) from None
        except ValidationError:
            raise ApprovalRefused(
                f"the client's answer about {request.tool} was not an elicitation result: "
                "the call was not sent"
            ) from None
        judge(request, answer.action, answer.content)

    def halted(self) -> str | None:
        return None


@dataclass
class Ledger:
    """Nonces of approval rounds already answered, so each answer is used once."""

    ttl_s: float
    _seen: dict[str, float] = field(default_factory=dict)

    def consume(self, nonce: str) -> bool:
        """True the first time `nonce` is presented within its lifetime, False after."""
        now = time.monotonic()
        if len(self._seen) >= MAX_LEDGER or (self._seen and next(iter(self._seen.values())) < now):
            self._seen = {n: t for n, t in self._seen.items() if t >= now}
            while len(self._seen) >= MAX_LEDGER:
                self._seen.pop(next(iter(self._seen)))
        if nonce in self._seen:
            return False
        self._seen[nonce] = now + self.ttl_s
        return True


@dataclass
class _Decision:
    tool: str
    digest: str
    approved: bool
    refusal: str | None = None


class Rounds:
    """2026-07-28: one `tools/call` round. Asks by ending the round (`ApprovalPending`,
    turned into an `InputRequiredResult` by `input_required`) and takes the answer from the
    retry's `input_responses` and (unsealed) `request_state`."""

    def __init__(
        self,
        ctx: Ctx,
        params: types.CallToolRequestParams,
        user: str | None,
        ledger: Ledger,
        timeout_s: float,
    ) -> None:
        self.ctx = ctx
        self.user = user
        self.timeout_s = timeout_s
        self.decided: list[_Decision] = []
        self.refused: str | None = None
        """Why the whole request is refused (a replayed or foreign state), if it is."""
        self.asking: ApprovalRequest | None = None
        self._unused: list[_Decision] = []
        self._read_state(params, ledger)

    def _read_state(self, params: types.CallToolRequestParams, ledger: Ledger) -> None:
        if params.request_state is None:
            return
        try:
            state = json.loads(params.request_state)
            kind, who, nonce = state["kind"], state.get("user"), str(state["nonce"])
            decided = [_Decision(**d) for d in state["decided"]]
            asked, asked_at = state["asking"], float(state["asked_at"])
        except (ValueError, KeyError, TypeError):
            return  # not ours (another handler's state would be sealed for it): ignore
        if kind != "codemode.approval":
            return
        if who != self.user:
            self.refused = "this approval answer belongs to another person's request: refused"
            return
        if not ledger.consume(nonce):
            self.refused = "this approval request was already answered: the answer is not reused"
            return
        answer = (params.input_responses or {}).get(INPUT_KEY)
        request = ApprovalRequest(asked["tool"], "", "", asked["digest"])
        if time.time() - asked_at > self.timeout_s:
            late = f"nobody approved the call of {asked['tool']} within {self.timeout_s:g} s"
            decided.append(_Decision(asked["tool"], asked["digest"], False, late))
        elif isinstance(answer, types.ElicitResult):
            try:
                judge(request, answer.action, answer.content)
                decided.append(_Decision(asked["tool"], asked["digest"], True))
            except ApprovalRefused as exc:
                decided.append(_Decision(asked["tool"], asked["digest"], False, exc.message))
        else:
            decided.append(
                _Decision(asked["tool"], asked["digest"], False, "the client sent no answer")
            )
        self.decided = decided
        self._unused = list(decided)

    async def __call__(self, request: ApprovalRequest) -> None:
        if self.refused is not None:
            raise ApprovalRefused(self.refused)
        if self.asking is not None:
            raise ApprovalRefused(self.halted() or "")
        for decision in self._unused:
            if decision.tool == request.tool and decision.digest == request.digest:
                self._unused.remove(decision)  # each answer covers one call
                if decision.approved:
                    return
                raise ApprovalRefused(decision.refusal or "the person did not approve the call")
        if not can_elicit_form(self.ctx.session.client_capabilities):
            raise _cannot_ask(request)
        self.asking = request
        raise ApprovalPending(request)

    def halted(self) -> str | None:
        if self.asking is None:
            return None
        return (
            f"this run is stopping to ask a person to approve {self.asking.tool}: no further "
            "calls are made; the code runs again once they answer"
        )

    def input_required(self) -> types.InputRequiredResult:
        """The round's answer while a question is open (`asking`)."""
        assert self.asking is not None
        request = self.asking
        state = {
            "kind": "codemode.approval",
            "user": self.user,
            "nonce": secrets.token_urlsafe(16),
            "decided": [d.__dict__ for d in self.decided],
            "asking": {"tool": request.tool, "digest": request.digest},
            "asked_at": time.time(),
        }
        ask = types.ElicitRequest(
            params=types.ElicitRequestFormParams(
                message=request.message, requested_schema=FORM_SCHEMA
            )
        )
        return types.InputRequiredResult(
            input_requests={INPUT_KEY: ask}, request_state=json.dumps(state)
        )


def approver_for(
    ctx: Ctx,
    params: types.CallToolRequestParams,
    user: str | None,
    ledger: Ledger,
    timeout_s: float,
) -> Eliciting | Rounds:
    """The approver of one `tools/call`, by the request's protocol era."""
    if ctx.protocol_version in MODERN_PROTOCOL_VERSIONS:
        return Rounds(ctx, params, user, ledger, timeout_s)
    return Eliciting(ctx, timeout_s)


def sealed_state(audience: str, person: Callable[[Ctx], str | None]) -> RequestStateBoundary:
    """The SDK middleware that seals the `requestState` of our `InputRequiredResult`s (AES-GCM
    under a key of this process) and verifies each retry's: same method, tool and arguments,
    same `audience` (portal and surface), same person (`person(ctx)`: the request log's user;
    None for an anonymous caller, whose state is bound to nobody in particular)."""
    security = RequestStateSecurity.ephemeral(ttl=STATE_TTL_S, audience=audience)
    security.bind_principal = person
    return RequestStateBoundary(security, default_audience=None)
