"""Owned JS values are freed exactly once: nothing the host reads out of a guest stays behind."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import pytest

import sandbox.guest as guest_module
from sandbox import ErrorKind, Limits
from sandbox.drive import Driver, Mailbox, Step
from sandbox.guest import Guest
from sandbox.quickjs import EVAL_GLOBAL, TAG_EXCEPTION, TAG_INT, Owned, QuickJS, Trapped, int_of
from sandbox.wasm import shared_module

LIMITS = Limits(timeout_s=10, cpu_s=2)
TAG_UNINITIALIZED = 4  # what JS_GetException returns when no exception is pending


@pytest.fixture
def guest() -> Iterator[Guest]:
    made = Guest(shared_module(), LIMITS)
    yield made
    made.close()


def drive(guest: Guest, code: str) -> Driver:
    """One run of `code` in `guest`, which is left open (a run normally discards its guest)."""
    driver = Driver(lambda: guest, code, [], LIMITS, Mailbox(lambda: None), lambda _: None, None)
    assert driver.pump() is Step.DONE
    return driver


def test_memory_usage_reads_the_runtime() -> None:
    guest = Guest(shared_module(), LIMITS)
    try:
        usage = guest.js.memory_usage()
        assert usage.malloc_limit == LIMITS.memory_bytes  # the struct is read at the right offsets
        assert usage.malloc_count > 100 and usage.objects > 100 and usage.malloc_size > 0
    finally:
        guest.close()


@pytest.mark.parametrize(
    "code", ["let x = ;", "return 1; let x = ;"], ids=["syntax-error", "function-body-syntax-error"]
)
def test_exception_info_leaks_nothing(guest: Guest, code: str) -> None:
    """Reading name, message and stack off an exception used to leak all three values."""
    for _ in range(5):  # warm up: atoms, shapes and caches the first errors create
        assert drive(guest, code).error is not None
    before = guest.js.memory_usage()
    for _ in range(50):
        error = drive(guest, code).error
        assert error is not None and error.kind is ErrorKind.SYNTAX
    after = guest.js.memory_usage()
    assert after.malloc_count == before.malloc_count
    assert after.malloc_size == before.malloc_size


@pytest.fixture
def js(guest: Guest) -> QuickJS:
    return guest.js


def live(js: QuickJS) -> int:
    return js.memory_usage().malloc_count


def test_with_frees_once_and_the_handle_is_then_empty(js: QuickJS) -> None:
    before = live(js)
    with js.new_string("x" * 1000) as text:
        assert live(js) == before + 1
        assert js.to_str(text.value) == "x" * 1000
    assert live(js) == before
    text.free()  # idempotent: no second JS_FreeValue
    assert live(js) == before
    with pytest.raises(ValueError, match="freed or taken"):
        _ = text.value
    assert "freed" in repr(text)


def test_take_hands_the_reference_on(js: QuickJS) -> None:
    before = live(js)
    text = js.new_string("y" * 1000)
    raw = text.take()
    text.free()  # the handle no longer owns it
    assert live(js) == before + 1
    with Owned(js, raw):  # the new owner frees it
        pass
    assert live(js) == before


def test_exit_stack_frees_in_reverse_order_even_on_error(js: QuickJS) -> None:
    before = live(js)
    with pytest.raises(RuntimeError), ExitStack() as stack:
        stack.enter_context(js.new_string("a" * 1000))
        stack.callback(js.new_string("b" * 1000).free)
        assert live(js) == before + 2
        raise RuntimeError("boom")
    assert live(js) == before


def test_nothing_is_freed_in_a_closed_instance(guest: Guest) -> None:
    text = guest.js.new_string("z" * 1000)
    guest.close()
    text.free()  # no call into the dropped store


def test_values_without_a_reference_cost_nothing(js: QuickJS) -> None:
    with js.eval("6 * 7", "t.js", EVAL_GLOBAL) as value:
        assert value.tag == TAG_INT and int_of(value.value) == 42
    with js.eval("throw 1", "t.js", EVAL_GLOBAL) as value:
        assert value.tag == TAG_EXCEPTION
    js.take_exception().free()


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("throw new TypeError('boom')", {"name": "TypeError", "message": "boom"}),
        ("throw 42", {}),
        ("throw {message: 'm', get name() { throw new Error('getter') }}", {"message": "m"}),
    ],
    ids=["error", "primitive", "throwing-getter"],
)
def test_exception_info_is_total_and_leaves_nothing_behind(
    js: QuickJS, code: str, expected: dict[str, str]
) -> None:
    def once() -> dict[str, str]:
        with js.eval(code, "t.js", EVAL_GLOBAL) as value:
            assert value.tag == TAG_EXCEPTION
        return js.exception_info()

    once()
    before = live(js)
    for _ in range(20):
        info = once()
        assert {k: v for k, v in info.items() if k != "stack"} == expected
    assert live(js) == before
    with js.take_exception() as pending:  # no exception was left pending
        assert pending.tag == TAG_UNINITIALIZED


def test_a_guest_whose_prelude_fails_closes_its_instance(monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[QuickJS] = []
    real = guest_module.QuickJS

    def tracking(*args: Any, **kw: Any) -> QuickJS:
        made.append(real(*args, **kw))
        return made[-1]

    monkeypatch.setattr(guest_module, "QuickJS", tracking)
    monkeypatch.setattr(guest_module, "_PRELUDE", "throw new RangeError('no bridge')")
    with pytest.raises(Trapped, match=r"RangeError.*no bridge"):
        Guest(shared_module(), LIMITS)
    assert made[0].closed


def test_close_frees_the_store_at_once() -> None:
    """`close` drops the store, and with it the guest's linear memory, without waiting for the
    cyclic GC: nothing else the guest keeps (its exports, bound functions) holds the store. A
    reference elsewhere kept every closed guest's memory until a GC pass and grew the portal's
    RSS under load."""
    gc.disable()  # only reference counting may free it
    try:
        js = QuickJS(shared_module(), memory_limit=16 << 20, store_memory_limit=64 << 20)
        store = weakref.ref(js.store)
        js.close()
        assert store() is None
        js.close()  # idempotent
    finally:
        gc.enable()
