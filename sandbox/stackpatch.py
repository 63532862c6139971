"""Give QuickJS a real stack.

The qjs-wasi-reactor build links its shadow stack *above* its data: 68 KB from 0x2aa60 down
to the end of the data segment, enough for only ~50 JavaScript frames, and an overflow runs
silently into libc's and QuickJS's globals before anything traps. We export the module's stack
pointer (global 0, `__stack_pointer`) by adding one entry to its export section, so each
instance can move its stack into a large block of its own heap with a canary at the bottom
that the host checks after every call (see `quickjs.QuickJS`).
"""

from __future__ import annotations

STACK_POINTER_EXPORT = "__stack_pointer"
_EXPORT_SECTION = 7
_GLOBAL_KIND = 0x03


def _leb_u32(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _read_leb(data: bytes, at: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = data[at]
        at += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return result, at


def export_stack_pointer(wasm: bytes) -> bytes:
    """`wasm` with global 0 also exported as `__stack_pointer`."""
    at = 8  # magic + version
    while at < len(wasm):
        section_id = wasm[at]
        size, body = _read_leb(wasm, at + 1)
        if section_id == _EXPORT_SECTION:
            count, entries = _read_leb(wasm, body)
            name = STACK_POINTER_EXPORT.encode()
            new_entry = _leb_u32(len(name)) + name + bytes([_GLOBAL_KIND]) + _leb_u32(0)
            new_body = _leb_u32(count + 1) + wasm[entries : body + size] + new_entry
            section = bytes([_EXPORT_SECTION]) + _leb_u32(len(new_body)) + new_body
            return wasm[:at] + section + wasm[body + size :]
        at = body + size
    raise ValueError("the QuickJS module has no export section")
