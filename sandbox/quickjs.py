"""One QuickJS runtime + context inside its own wasmtime Store: the unit of isolation.

Lifetimes are explicit (after quickjs-rs): a `QuickJS` owns its Store, linear memory, runtime
and context; `close()` drops all of them at once. Values are NaN-boxed `JSValue`s: a method that
creates one returns an `Owned` (the reference is the caller's, freed exactly once); a parameter
typed `int` only borrows. An instance that trapped is never used again. It is one module
because it is one object's lifetime: the store, memory, runtime and the values made in them.
"""

from __future__ import annotations

import ctypes
import struct
import weakref
from collections.abc import Callable
from typing import Any, NamedTuple

import wasmtime

from sandbox.fastcall import RawCall, bind, signature
from sandbox.stackpatch import STACK_POINTER_EXPORT
from sandbox.wasm import WasmModule

EVAL_GLOBAL = 0
EVAL_ASYNC = 1 << 7
"""Top-level `await` allowed; the eval returns a Promise of `{value: <completion value>}`."""

TAG_EXCEPTION = 6
TAG_INT = 0
# quickjs-ng: values with a negative tag (objects, strings, ...) hold a reference to free.

_EXPORTS = (
    "malloc",
    "free",
    "JS_NewRuntime",
    "JS_NewContext",
    "JS_SetMemoryLimit",
    "JS_Eval",
    "JS_Call",
    "JS_ExecutePendingJob",
    "JS_GetException",
    "JS_ToCStringLen2",
    "JS_FreeCString",
    "JS_FreeValue",
    "JS_GetPropertyStr",
    "JS_NewStringLen",
    "JS_NewArrayBuffer",
)

STACK_BYTES = 2 * 1024 * 1024
"""The shadow stack of each instance: ~1,400 JavaScript frames (the build's own: ~50)."""
_CANARY = bytes(range(256)) * 16
STACK_OVERFLOW = "maximum call stack size exceeded (the sandbox's stack canary was overwritten)"

_SCRATCH_BYTES = 64  # [0:4] length out-param, [8:12] ctx out-param, [16:64] argv (6 JSValues)
_ARGV = 16


def tag_of(value: int) -> int:
    tag = (value >> 32) & 0xFFFFFFFF
    return tag - (1 << 32) if tag & 0x80000000 else tag


def int_of(value: int) -> int:
    low = value & 0xFFFFFFFF
    return low - (1 << 32) if low & 0x80000000 else low


class MemoryUsage(NamedTuple):
    """From QuickJS's `JSMemoryUsage` (26 int64 fields; these are its 4th, 1st, 2nd and 10th)."""

    malloc_count: int
    """Live allocations of the runtime: every value still referenced holds at least one."""
    malloc_size: int
    malloc_limit: int
    objects: int


_USAGE_BYTES = 26 * 8


class Owned:
    """One reference to a JSValue, freed exactly once (after quickjs-rs's handles).

    Free it by leaving a `with` block, by `free()` (idempotent, so `ExitStack.callback(v.free)`
    works too), or hand it on with `take()`: the raw value is then the taker's to free, or to keep
    for the instance's life. Values that hold no reference (ints, undefined, the exception
    marker) cost nothing to free. Nothing is freed in a closed instance, whose store already
    dropped every value. Unfreed handles are not freed by the garbage collector: that would call
    into wasm from whatever thread collects.
    """

    __slots__ = ("_js", "_value")

    def __init__(self, js: QuickJS, value: int) -> None:
        self._js = js
        self._value: int | None = value

    @property
    def value(self) -> int:
        """The raw value, borrowed: valid until this handle is freed."""
        if self._value is None:
            raise ValueError("this JS value was already freed or taken")
        return self._value

    @property
    def tag(self) -> int:
        return tag_of(self.value)

    def take(self) -> int:
        """Transfer the reference to the caller: this handle will not free it."""
        value = self.value
        self._value = None
        return value

    def free(self) -> None:
        value, self._value = self._value, None
        if value is not None:
            self._js.free(value)

    def __enter__(self) -> Owned:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.free()

    def __repr__(self) -> str:
        state = "freed" if self._value is None else f"tag {tag_of(self._value)}"
        return f"<Owned JSValue, {state}>"


class Interrupted(Exception):
    """The epoch callback stopped wasm execution (deadline, CPU budget or cancellation)."""


class Trapped(Exception):
    """wasm trapped (stack overflow into linear memory, ...): the instance must be discarded."""


class QuickJS:
    """A bare QuickJS context (no std/os, no print) in a fresh wasmtime Store."""

    def __init__(self, wasm: WasmModule, *, memory_limit: int, store_memory_limit: int) -> None:
        self._wasm = wasm
        self.store = wasmtime.Store(wasm.engine)
        self.store.set_limits(memory_size=store_memory_limit)
        self.store.set_wasi(wasmtime.WasiConfig())  # no args, env, preopens or stdin
        self.store.set_epoch_deadline(1)
        self.should_stop: Callable[[], str | None] = lambda: None
        self.stop_reason: str | None = None
        self._epoch_callback = self._install_epoch_callback()
        linker = wasmtime.Linker(wasm.engine)
        linker.define_wasi()
        instance = linker.instantiate(self.store, wasm.module)
        exports = _Exports(self.store, instance)
        self._exports = exports
        memory = exports["memory"]
        assert isinstance(memory, wasmtime.Memory)
        self.memory = memory
        self._mapped_length = -1
        self._mapped_base = 0
        self._signatures = wasm.signatures
        self._bind("_initialize")()
        self.fn: dict[str, RawCall] = {name: self._bind(name) for name in _EXPORTS}
        self._move_stack(exports[STACK_POINTER_EXPORT])
        self.rt = self.fn["JS_NewRuntime"]()
        self.fn["JS_SetMemoryLimit"](self.rt, memory_limit)
        self.ctx = self.fn["JS_NewContext"](self.rt)
        self.scratch = self.fn["malloc"](_SCRATCH_BYTES)
        self._buf, self._buf_size = 0, 0
        self.closed = False
        self._cap_heap_growth(memory_limit, store_memory_limit)

    def _cap_heap_growth(self, memory_limit: int, store_memory_limit: int) -> None:
        """Make `memory_limit` bound the heap, which `JS_SetMemoryLimit` alone does not do here.

        On WASI this build's allocator cannot tell QuickJS the size of a block (no
        `malloc_usable_size`), so QuickJS counts 8 bytes per allocation and its limit refuses
        only single allocations above it: every memory bomb ran on to the store's cap, four times
        the heap limit, computing all the way (a bomb then overran a 1 s CPU budget under load).
        The heap lives in the linear memory, which grows only as the allocator needs more, so
        capping that growth at `memory_limit` past what the empty runtime holds now is the heap
        limit; `malloc` gets NULL beyond it, and QuickJS throws its catchable out-of-memory error.
        """
        baseline = self.memory.data_len(self.store)
        self.store.set_limits(memory_size=min(store_memory_limit, baseline + memory_limit))

    def bind_export(self, name: str) -> None:
        """Make an export outside `_EXPORTS` callable through `fn` / `guarded`."""
        if name not in self.fn:
            self.fn[name] = self._bind(name)

    def _bind(self, name: str) -> RawCall:
        func = _func(self._exports, name)
        sig = self._signatures.get(name)
        if sig is None:
            sig = self._signatures[name] = signature(self.store, func)
        return bind(self.store, func, sig=sig)

    # -- the stack ----------------------------------------------------------------------------

    def _move_stack(self, stack_pointer: Any) -> None:
        """Run on a STACK_BYTES block of our own, with a canary at its bottom (stackpatch.py)."""
        if not isinstance(stack_pointer, wasmtime.Global):
            raise TypeError("the QuickJS module does not export its stack pointer")
        bottom = self.fn["malloc"](STACK_BYTES)
        if not bottom:
            raise MemoryError("sandbox could not allocate its stack")
        self._canary_at = bottom
        ctypes.memmove(self._at(bottom, len(_CANARY)), _CANARY, len(_CANARY))
        stack_pointer.set_value(self.store, wasmtime.Val.i32((bottom + STACK_BYTES) & ~15))

    def _stack_overflowed(self) -> bool:
        at = self._canary_at
        return ctypes.string_at(self._at(at, len(_CANARY)), len(_CANARY)) != _CANARY

    def _after_call(self, failure: BaseException | None) -> None:
        """Classify how a wasm call ended; the stack canary is checked first, since an overflow
        can make QuickJS misbehave in any way before it traps, if it traps at all."""
        if failure is None and not self._stack_overflowed():
            return
        self.closed = True
        if self._stack_overflowed():
            raise Trapped(STACK_OVERFLOW) from None
        if self.stop_reason is not None:
            raise Interrupted(self.stop_reason) from None
        raise Trapped(str(failure)) from None

    # -- interruption -------------------------------------------------------------------------

    def _install_epoch_callback(self) -> Any:
        """Every epoch tick while wasm runs, ask `should_stop`; a reason traps the instance."""
        # private API, pinned with the wasmtime major version in pyproject
        from wasmtime import _bindings as bindings
        from wasmtime import _ffi as ffi

        def on_tick(_ctx: Any, _data: Any, delta: Any, kind: Any) -> int:
            reason = self.should_stop()
            if reason is not None:
                self.stop_reason = reason
                err = ffi.wasmtime_error_new(reason.encode())
                return ctypes.cast(err, ctypes.c_void_p).value or 0
            delta[0] = 1
            kind[0] = 0  # WASMTIME_UPDATE_DEADLINE_CONTINUE
            return 0

        callback_type = bindings._wasmtime_store_epoch_deadline_callback.argtypes[1]
        callback = callback_type(on_tick)
        finalizer = ctypes.cast(0, ctypes.CFUNCTYPE(None, ctypes.c_void_p))
        ffi.wasmtime_store_epoch_deadline_callback(self.store.ptr(), callback, None, finalizer)
        return callback  # kept alive as long as the store

    def guarded(self, name: str, *args: int) -> int:
        """Call an export, turning traps into `Interrupted` / `Trapped`. The epoch ticks
        meanwhile (`WasmModule.enter`), so a stop can land in it."""
        self._wasm.enter()
        try:
            out = self.fn[name](*args)
        except (wasmtime.Trap, wasmtime.WasmtimeError) as exc:
            self._after_call(exc)
            raise  # unreachable: _after_call raised
        finally:
            self._wasm.leave()
        self._after_call(None)
        return out

    # -- memory -------------------------------------------------------------------------------

    def _at(self, address: int, size: int) -> int:
        """The host address of `size` bytes at guest `address`, checked to lie inside linear
        memory: addresses and lengths come from the guest, whose memory agent code can
        corrupt (QuickJS's stack overflows silently into its data before wasm traps)."""
        length = self.memory.data_len(self.store)
        if address < 0 or size < 0 or address + size > length:
            self.closed = True
            raise Trapped("the sandbox's memory is corrupt (an address outside its memory)")
        if length != self._mapped_length:  # grown (and perhaps moved): look the base up again
            self._mapped_length = length
            self._mapped_base = ctypes.addressof(self.memory.data_ptr(self.store).contents)
        return self._mapped_base + address

    def write(self, data: bytes) -> int:
        """Copy `data` (NUL-terminated) into the reusable transfer buffer; return its address."""
        need = len(data) + 1
        if need > self._buf_size:
            if self._buf:
                self.fn["free"](self._buf)
            self._buf_size = max(need, 2 * self._buf_size, 4096)
            self._buf = self.fn["malloc"](self._buf_size)
            if not self._buf:
                raise MemoryError("sandbox could not allocate a transfer buffer")
        ctypes.memmove(self._at(self._buf, need), data + b"\0", need)
        return self._buf

    def read(self, address: int, size: int) -> bytes:
        return ctypes.string_at(self._at(address, size), size)

    def write_units(self, address: int, data: bytes) -> int:
        """Write UTF-16 code units (little-endian bytes) at `address`; return their count."""
        ctypes.memmove(self._at(address, len(data)), data, len(data))
        return len(data) // 2

    def read_utf16(self, address: int, units: int) -> str:
        return self.read(address, 2 * units).decode("utf-16-le", "surrogatepass")

    def _read_u32(self, address: int) -> int:
        return int.from_bytes(self.read(address, 4), "little")

    # -- values -------------------------------------------------------------------------------

    def eval(self, source: str, filename: str, flags: int = EVAL_GLOBAL) -> Owned:
        data = source.encode("utf-8", "surrogatepass")
        name_at = self.fn["malloc"](len(filename) + 1)
        ctypes.memmove(
            self._at(name_at, len(filename) + 1), filename.encode() + b"\0", len(filename) + 1
        )
        src = self.write(data)
        try:
            return Owned(self, self.guarded("JS_Eval", self.ctx, src, len(data), name_at, flags))
        finally:
            if not self.closed:
                self.fn["free"](name_at)

    def call(self, func: int, *args: int) -> Owned:
        argv = self.scratch + _ARGV
        for i, arg in enumerate(args):
            ctypes.c_int64.from_address(self._at(argv + 8 * i, 8)).value = arg
        return Owned(self, self.guarded("JS_Call", self.ctx, func, _UNDEFINED, len(args), argv))

    def new_string(self, text: str) -> Owned:
        data = text.encode("utf-8", "surrogatepass")
        return Owned(self, self.guarded("JS_NewStringLen", self.ctx, self.write(data), len(data)))

    def to_str(self, value: int) -> str:
        address = self.guarded("JS_ToCStringLen2", self.ctx, self.scratch, value, 0)
        if not address:
            raise Trapped("could not convert a value to a string (out of memory)")
        try:
            return self.read(address, self._read_u32(self.scratch)).decode("utf-8", "replace")
        finally:
            if not self.closed:
                self.fn["JS_FreeCString"](self.ctx, address)

    def new_array_buffer(self, address: int, size: int) -> Owned:
        """An ArrayBuffer over our own allocation (no free function: we own the memory)."""
        return Owned(self, self.guarded("JS_NewArrayBuffer", self.ctx, address, size, 0, 0, 0))

    def get(self, obj: int, prop: str) -> Owned:
        at = self.write(prop.encode())
        return Owned(self, self.guarded("JS_GetPropertyStr", self.ctx, obj, at))

    def free(self, value: int) -> None:
        """Drop one reference; prefer `Owned`, which calls this exactly once."""
        if tag_of(value) < 0 and not self.closed:
            # Guarded: freeing a large object graph runs long enough for a stop to land in it.
            self.guarded("JS_FreeValue", self.ctx, value)

    def take_exception(self) -> Owned:
        """The pending exception (and none is pending afterwards)."""
        return Owned(self, self.fn["JS_GetException"](self.ctx))

    def exception_info(
        self, names: tuple[str, ...] = ("name", "message", "stack")
    ) -> dict[str, str]:
        """Take the pending exception and read `names` off it as strings. A property that is
        undefined, or whose getter throws, is left out (its exception is taken and dropped)."""
        info: dict[str, str] = {}
        with self.take_exception() as exc:
            for name in names:
                with self.get(exc.value, name) as prop:
                    if prop.tag == TAG_EXCEPTION:
                        self.take_exception().free()
                    elif prop.value != _UNDEFINED:
                        info[name] = self.to_str(prop.value)
        return info

    def memory_usage(self) -> MemoryUsage:
        """What the QuickJS heap holds after a full GC (a diagnostic: a few ms, off hot paths)."""
        for name in ("JS_RunGC", "JS_ComputeMemoryUsage"):
            self.bind_export(name)
        self.guarded("JS_RunGC", self.rt)
        at = self.fn["malloc"](_USAGE_BYTES)  # the C allocator: not counted in QuickJS's heap
        if not at:
            raise MemoryError("sandbox could not allocate a memory-usage record")
        try:
            self.guarded("JS_ComputeMemoryUsage", self.rt, at)
            fields = struct.unpack("<26q", self.read(at, _USAGE_BYTES))
        finally:
            if not self.closed:
                self.fn["free"](at)
        return MemoryUsage(
            malloc_count=fields[3], malloc_size=fields[0], malloc_limit=fields[1], objects=fields[9]
        )

    def run_jobs(self) -> None:
        """Run pending promise jobs until none is left."""
        job = self.fn["JS_ExecutePendingJob"]
        out = self.scratch + 8
        self._wasm.enter()
        try:
            while job(self.rt, out) > 0:
                pass
        except (wasmtime.Trap, wasmtime.WasmtimeError) as exc:
            self._after_call(exc)
        finally:
            self._wasm.leave()
        self._after_call(None)

    def close(self) -> None:
        """Drop the store: its linear memory, runtime, context and values go with it. Idempotent."""
        self.closed = True
        self.fn = {}
        self.__dict__.pop("store", None)


class _Exports:
    """An instance's exports, looked up one by one by name.

    wasmtime-py's `Instance.exports` wraps every export of the module (QuickJS has hundreds)
    in a Python object up front: about two thirds of a guest's start-up CPU, for the ~20 we use.

    It holds no reference to the store: `QuickJS.close` frees the store (and its linear
    memory) by dropping it, and a reference here kept every closed guest's memory alive until
    the cyclic GC collected the guest (the portal's RSS grew 308 -> 435-569 MB under load).
    """

    def __init__(self, store: wasmtime.Store, instance: wasmtime.Instance) -> None:
        self._store = weakref.ref(store)
        self._instance = instance

    def __getitem__(self, name: str) -> Any:
        # private API, pinned with the wasmtime major version in pyproject
        from wasmtime import _ffi as ffi
        from wasmtime._extern import wrap_extern

        store = self._store()
        if store is None:
            raise KeyError(f"{name} (the guest's store is closed)")
        item = ffi.wasmtime_extern_t()
        raw = name.encode()
        found = ffi.wasmtime_instance_export_get(
            store._context(),
            ctypes.byref(self._instance._instance),
            ctypes.create_string_buffer(raw, len(raw)),
            len(raw),
            ctypes.byref(item),
        )
        if not found:
            raise KeyError(name)
        return wrap_extern(item)


def _func(exports: Any, name: str) -> wasmtime.Func:
    func = exports[name]
    if not isinstance(func, wasmtime.Func):
        raise TypeError(f"the QuickJS module's export {name!r} is not a function")
    return func


_UNDEFINED = 3 << 32  # JS_UNDEFINED under NaN boxing: tag 3, payload 0
