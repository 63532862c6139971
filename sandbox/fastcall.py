"""Cheap calls into wasm exports.

wasmtime-py's `Func.__call__` re-reads the function type and converts every value on each call
(~27 µs). A bridge round makes several calls, so we call through wasmtime's C API
`wasmtime_func_call_unchecked` with one preallocated raw-value array per function (~3 µs).
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
    from wasmtime._func import enter_wasm as _enter_wasm

    _call_unchecked: Any = _wffi.wasmtime_func_call_unchecked
    _ValRaw: Any = _wffi.wasmtime_val_raw_t
    FAST_PATH = True
except (ImportError, AttributeError):  # pragma: no cover - depends on the wasmtime release
    FAST_PATH = False


def bind(store: wasmtime.Store, func: wasmtime.Func, *, fast: bool = FAST_PATH) -> RawCall:
    """Return a callable for `func` in `store`; every export we use has i32/i64 values only."""
    ty = func.type(store)
    params = ["i64" if str(p) == "i64" else "i32" for p in ty.params]
    results = ["i64" if str(r) == "i64" else "i32" for r in ty.results]
    if fast:
        return _bind_fast(store, func, params, results[0] if results else None)
    return _bind_checked(store, func, bool(results))


def _bind_checked(store: wasmtime.Store, func: wasmtime.Func, has_result: bool) -> RawCall:
    def call(*args: int) -> int:
        out = func(store, *args)
        return int(out) if has_result else 0

    return call


def _bind_fast(
    store: wasmtime.Store, func: wasmtime.Func, params: list[str], result: str | None
) -> RawCall:
    slots = max(len(params), 1)
    raw = (_ValRaw * slots)()
    context = store._context()
    func_ptr = ctypes.byref(func._func)
    setters = [(raw[i], kind) for i, kind in enumerate(params)]
    out = raw[0]
    # ctypes releases the GIL around the foreign call, so other threads keep running.

    def call(*args: int) -> int:
        for (slot, kind), value in zip(setters, args, strict=True):
            setattr(slot, kind, value)
        with _enter_wasm(store) as trap:
            error = _call_unchecked(context, func_ptr, raw, slots, trap)
            if error:
                raise wasmtime.WasmtimeError._from_ptr(error)
        return int(getattr(out, result)) if result else 0

    return call
