"""The bridge prelude compiled to QuickJS bytecode once per process, loaded into each guest.

Parsing and compiling the prelude's source was ~3.5 ms of a guest's ~5.5 ms start-up CPU;
reading its bytecode (`JS_ReadObject`) and running it costs ~0.4 ms. The bytecode is made in
this process by the same QuickJS build, from our own source, in a throwaway instance, so no
bytes from outside are ever read as bytecode.
"""

from __future__ import annotations

import threading

from sandbox.limits import Limits
from sandbox.quickjs import EVAL_GLOBAL, TAG_EXCEPTION, Owned, QuickJS, Trapped
from sandbox.wasm import WasmModule

_EVAL_COMPILE_ONLY = 1 << 5  # JS_EVAL_FLAG_COMPILE_ONLY
_BYTECODE = 1 << 0  # JS_WRITE_OBJ_BYTECODE / JS_READ_OBJ_BYTECODE

_lock = threading.Lock()
_compiled: dict[tuple[WasmModule, str], bytes] = {}


def compiled(wasm: WasmModule, source: str, filename: str) -> bytes:
    """`source` as bytecode of `wasm`'s QuickJS (made once per module and source)."""
    key = (wasm, source)
    with _lock:  # pool threads may start guests at the same time
        code = _compiled.get(key)
        if code is None:
            code = _compiled[key] = _compile(wasm, source, filename)
        return code


def _compile(wasm: WasmModule, source: str, filename: str) -> bytes:
    limits = Limits()
    js = QuickJS(
        wasm, memory_limit=limits.memory_bytes, store_memory_limit=limits.store_memory_bytes
    )
    try:
        js.bind_export("JS_WriteObject")
        with js.eval(source, filename, EVAL_GLOBAL | _EVAL_COMPILE_ONLY) as function:
            if function.tag == TAG_EXCEPTION:
                raise Trapped(f"{filename} failed to compile: {js.exception_info()}")
            size_at = js.scratch  # a size_t out-parameter (4 bytes in wasm32)
            at = js.guarded("JS_WriteObject", js.ctx, size_at, function.value, _BYTECODE)
            if not at:
                raise Trapped(f"{filename} could not be written as bytecode (out of memory)")
            return js.read(at, int.from_bytes(js.read(size_at, 4), "little"))
    finally:
        js.close()


def run(js: QuickJS, code: bytes) -> Owned:
    """Read `code` (from `compiled`) into `js` and run it: its completion value, owned."""
    for name in ("JS_ReadObject", "JS_EvalFunction"):
        js.bind_export(name)
    function = js.guarded("JS_ReadObject", js.ctx, js.write(code), len(code), _BYTECODE)
    # JS_EvalFunction takes ownership of the function, also of an exception value.
    return Owned(js, js.guarded("JS_EvalFunction", js.ctx, function))
