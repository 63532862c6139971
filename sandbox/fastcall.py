"""Cheap calls into wasm exports.

wasmtime-py's `Func.__call__` re-reads the function type and converts every value on each call
(~27 µs). A bridge round makes several calls, so we call through wasmtime's C API
`wasmtime_func_call_unchecked` with one preallocated raw-value array per function (~2 µs).
That entry point is private to wasmtime-py: pyproject pins the major version it was tested
with, and `bind` falls back to the checked call when the private names are missing.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from typing import Any

import wasmtime

RawCall = Callable[..., int]
"""A bound export taking and returning ints (pointers, handles and NaN-boxed JSValues)."""

try:
    from wasmtime import _ffi as _wffi
    from wasmtime._func import maybe_raise_last_exn as _raise_pending

    # Our own handle on the symbol, with plain pointer argument types: no per-call conversion.
    _symbol: Any = _wffi.dll["wasmtime_func_call_unchecked"]
    _call_unchecked: Any = ctypes.CFUNCTYPE(
        ctypes.c_void_p,
        ctypes.c_void_p,
        ctypes.c_void_p,
        ctypes.c_void_p,
        ctypes.c_size_t,
        ctypes.c_void_p,
    )(ctypes.cast(_symbol, ctypes.c_void_p).value or 0)
    _Trap: Any = _wffi.wasm_trap_t
    FAST_PATH = True
except (ImportError, AttributeError, KeyError):  # pragma: no cover - depends on the release
    FAST_PATH = False


Signature = tuple[int, str | None]
"""A function's parameter count and its result type (`"i32"`, `"i64"`) or None."""


def signature(store: wasmtime.Store, func: wasmtime.Func) -> Signature:
    """Reading a function's type costs more than binding it: cache it per module and name."""
    ty = func.type(store)
    results = [str(r) for r in ty.results]
    return len(ty.params), results[0] if results else None


def bind(
    store: wasmtime.Store,
    func: wasmtime.Func,
    *,
    fast: bool = FAST_PATH,
    sig: Signature | None = None,
) -> RawCall:
    """Return a callable for `func` in `store`; every export we use has i32/i64 values only.
    `sig`: the function's `signature`, when known."""
    params, result = sig if sig is not None else signature(store, func)
    if fast:
        return _bind_fast(store, func, params, result)
    return _bind_checked(store, func, result is not None)


def _bind_checked(store: wasmtime.Store, func: wasmtime.Func, has_result: bool) -> RawCall:
    def call(*args: int) -> int:
        out = func(store, *args)
        return int(out) if has_result else 0

    return call


def _bind_fast(
    store: wasmtime.Store, func: wasmtime.Func, params: int, result: str | None
) -> RawCall:
    slots = max(params, 1)
    # A wasmtime_val_raw_t is a 16-byte union; writing an i64 into its first 8 bytes also sets
    # an i32 parameter (wasmtime reads the low half), so one int64 view serves every kind.
    raw = (ctypes.c_int64 * (2 * slots))()
    raw_at = ctypes.addressof(raw)
    context = ctypes.cast(store._context(), ctypes.c_void_p).value
    func_at = ctypes.addressof(func._func)
    trap = ctypes.c_void_p()
    trap_at = ctypes.addressof(trap)
    wide = result == "i64"
    has_result = result is not None
    index = [2 * i for i in range(params)]

    def fail(error: int) -> None:
        if error:
            err = ctypes.cast(error, ctypes.POINTER(_wffi.wasmtime_error_t))
            raise wasmtime.WasmtimeError._from_ptr(err)
        pointer = ctypes.cast(trap.value or 0, ctypes.POINTER(_Trap))
        trap.value = None
        _raise_pending()
        raise wasmtime.Trap._from_ptr(pointer)

    def call(*args: int, _owners: tuple[Any, ...] = (store, func, raw, trap)) -> int:
        # `_owners` keeps alive the objects whose addresses were taken above.
        for i, value in zip(index, args, strict=True):
            raw[i] = value
        error = _call_unchecked(context, func_at, raw_at, slots, trap_at)
        if error or trap.value:
            fail(error)
        if not has_result:
            return 0
        value = raw[0]
        if wide:
            return value
        value &= 0xFFFFFFFF
        return value - (1 << 32) if value & 0x80000000 else value

    return call
