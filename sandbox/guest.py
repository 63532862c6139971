"""A QuickJS instance with the bridge prelude loaded: ready to take one piece of agent code."""

from __future__ import annotations

import json
from importlib import resources

from sandbox.limits import Limits
from sandbox.quickjs import (
    EVAL_GLOBAL,
    TAG_EXCEPTION,
    TAG_INT,
    QuickJS,
    Trapped,
    int_of,
    tag_of,
)
from sandbox.wasm import WasmModule

_PRELUDE = (resources.files("sandbox") / "prelude.js").read_text(encoding="utf-8")
_PRELUDE_FILE = "codemode-bridge.js"
WIRE_UNITS = 32 * 1024
"""UTF-16 code units in the shared window; larger messages cross as JS strings."""


class Guest:
    """Owns one `QuickJS` and the bridge functions the prelude returned (looked up once)."""

    def __init__(self, wasm: WasmModule, limits: Limits) -> None:
        self.js = QuickJS(
            wasm, memory_limit=limits.memory_bytes, store_memory_limit=limits.store_memory_bytes
        )
        bridge = self.js.eval(_PRELUDE, _PRELUDE_FILE, EVAL_GLOBAL)
        if tag_of(bridge) == TAG_EXCEPTION:
            raise Trapped("the sandbox prelude failed to evaluate")
        self.configure_fn = self.js.get(bridge, "configure")
        self.start_fn = self.js.get(bridge, "start")
        self.collect_fn = self.js.get(bridge, "collect")
        self.settle_fn = self.js.get(bridge, "settle")
        attach = self.js.get(bridge, "attach")
        self.js.free(bridge)
        self.wire = self.js.fn["malloc"](2 * WIRE_UNITS)
        window = self.js.new_array_buffer(self.wire, 2 * WIRE_UNITS)
        try:
            self._expect_ok(self.js.call(attach, window))
        finally:
            self.js.free(window)
            self.js.free(attach)

    def configure(self, names: list[str], limits: Limits, unknown_hint: str = "") -> None:
        settings = {
            "unknownHint": unknown_hint,
            "maxCalls": limits.max_calls,
            "maxArgsBytes": limits.max_args_bytes,
            "maxResultBytes": limits.max_result_bytes,
            "maxLogBytes": limits.max_log_bytes,
        }
        a = self.js.new_string(json.dumps(names))
        b = self.js.new_string(json.dumps(settings))
        try:
            self._expect_ok(self.js.call(self.configure_fn, a, b))
        finally:
            self.js.free(a)
            self.js.free(b)

    def start(self, promise: int, mode: int) -> None:
        self._expect_ok(self.js.call(self.start_fn, promise, mode))

    def collect(self) -> str | None:
        """JSON of new calls, logs and the outcome; None when nothing is new."""
        out = self.js.call(self.collect_fn)
        if tag_of(out) == TAG_INT:
            units = int_of(out)
            if not 0 <= units <= WIRE_UNITS:
                raise Trapped(f"the bridge reported {units} units on a {WIRE_UNITS}-unit wire")
            return self.js.read_utf16(self.wire, units) if units else None
        if tag_of(out) == TAG_EXCEPTION:
            self._expect_ok(out)
        try:  # too big for the wire: a string (flat or rope)
            return self.js.to_str(out)
        finally:
            self.js.free(out)

    def settle(self, batch_json: str) -> None:
        # Astral characters take two UTF-16 units: measure the encoding, not the characters.
        if len(batch_json) <= WIRE_UNITS:
            encoded = batch_json.encode("utf-16-le", "surrogatepass")
            if len(encoded) <= 2 * WIRE_UNITS:
                units = self.js.write_units(self.wire, encoded)
                self._expect_ok(self.js.call(self.settle_fn, units))
                return
        arg = self.js.new_string(batch_json)
        try:
            self._expect_ok(self.js.call(self.settle_fn, arg))
        finally:
            self.js.free(arg)

    def _expect_ok(self, value: int) -> None:
        """Bridge functions only fail when the heap is exhausted (or the agent broke JSON.parse
        inputs we produced, which cannot happen): surface it as a trap of the instance."""
        if tag_of(value) == TAG_EXCEPTION:
            exc = self.js.take_exception()
            text = self.js.to_str(exc)
            self.js.free(exc)
            raise Trapped(f"bridge failure: {text}")
        self.js.free(value)

    def close(self) -> None:
        self.js.close()
