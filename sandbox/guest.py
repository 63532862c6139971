"""A QuickJS instance with the bridge prelude loaded: ready to take one piece of agent code."""

from __future__ import annotations

import json
from importlib import resources
from typing import NoReturn

from sandbox import bytecode
from sandbox.limits import Limits
from sandbox.quickjs import (
    TAG_EXCEPTION,
    TAG_INT,
    Owned,
    QuickJS,
    Trapped,
    int_of,
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
        try:
            self._load_prelude(wasm)
        except BaseException:
            self.js.close()
            raise

    def _load_prelude(self, wasm: WasmModule) -> None:
        js = self.js
        code = bytecode.compiled(wasm, _PRELUDE, _PRELUDE_FILE)
        with bytecode.run(js, code) as bridge:
            if bridge.tag == TAG_EXCEPTION:
                raise Trapped(f"the sandbox prelude failed to evaluate: {js.exception_info()}")
            # Held for the instance's life: dropped with its store, never freed one by one.
            self.configure_fn = js.get(bridge.value, "configure").take()
            self.start_fn = js.get(bridge.value, "start").take()
            self.collect_fn = js.get(bridge.value, "collect").take()
            self.settle_fn = js.get(bridge.value, "settle").take()
            attach = js.get(bridge.value, "attach")
        self.wire = js.fn["malloc"](2 * WIRE_UNITS)
        with attach, js.new_array_buffer(self.wire, 2 * WIRE_UNITS) as window:
            self._expect_ok(js.call(attach.value, window.value))

    def configure(self, names: list[str], limits: Limits, unknown_hint: str = "") -> None:
        settings = {
            "unknownHint": unknown_hint,
            "maxCalls": limits.max_calls,
            "maxArgsBytes": limits.max_args_bytes,
            "maxResultBytes": limits.max_result_bytes,
            "maxLogBytes": limits.max_log_bytes,
        }
        names_json = self.js.new_string(json.dumps(names))
        with names_json, self.js.new_string(json.dumps(settings)) as settings_json:
            self._expect_ok(self.js.call(self.configure_fn, names_json.value, settings_json.value))

    def start(self, promise: int, mode: int) -> None:
        """Run the agent's `promise` (borrowed) in `mode` (a `Mode`)."""
        self._expect_ok(self.js.call(self.start_fn, promise, mode))

    def collect(self) -> str | None:
        """JSON of new calls, logs and the outcome; None when nothing is new."""
        with self.js.call(self.collect_fn) as out:
            tag = out.tag
            if tag == TAG_INT:
                units = int_of(out.value)
                if not 0 <= units <= WIRE_UNITS:
                    raise Trapped(f"the bridge reported {units} units on a {WIRE_UNITS}-unit wire")
                return self.js.read_utf16(self.wire, units) if units else None
            if tag == TAG_EXCEPTION:
                self._raise_pending()
            return self.js.to_str(out.value)  # too big for the wire: a string (flat or rope)

    def settle(self, batch_json: str) -> None:
        # Astral characters take two UTF-16 units: measure the encoding, not the characters.
        if len(batch_json) <= WIRE_UNITS:
            encoded = batch_json.encode("utf-16-le", "surrogatepass")
            if len(encoded) <= 2 * WIRE_UNITS:
                units = self.js.write_units(self.wire, encoded)
                self._expect_ok(self.js.call(self.settle_fn, units))
                return
        with self.js.new_string(batch_json) as arg:
            self._expect_ok(self.js.call(self.settle_fn, arg.value))

    def _expect_ok(self, result: Owned) -> None:
        """Bridge functions only fail when the heap is exhausted (or the agent broke JSON.parse
        inputs we produced, which cannot happen): surface it as a trap of the instance."""
        with result:
            if result.tag == TAG_EXCEPTION:
                self._raise_pending()

    def _raise_pending(self) -> NoReturn:
        with self.js.take_exception() as exc:
            text = self.js.to_str(exc.value)
        raise Trapped(f"bridge failure: {text}")

    def close(self) -> None:
        self.js.close()
