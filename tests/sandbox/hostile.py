# ruff: noqa: E501  (a corpus of code snippets: one per line reads best)
"""Hostile agent code: escape, leak and denial-of-service attempts against the sandbox.

Each entry is (id, code). The test runs every one with a host that holds a secret and checks
that nothing leaks, nothing outside the sandbox is reached, the host survives, and the next
run is unaffected.
"""

HOSTILE: list[tuple[str, str]] = [
    # -- reaching the host ------------------------------------------------------------------
    ("function-ctor-this", "return Function('return this')().process"),
    ("ctor-ctor", "return ({}).constructor.constructor('return typeof require')()"),
    (
        "async-fn-ctor",
        "const AF = (async () => {}).constructor; return await AF('return typeof os')()",
    ),
    (
        "generator-ctor",
        "const G = (function*(){}).constructor; return G('yield typeof std')().next().value",
    ),
    ("eval-global", "return eval('this === globalThis && typeof process')"),
    ("indirect-eval", "return (0, eval)('typeof scriptArgs')"),
    ("import-std", "return await import('qjs:std')"),
    ("import-os", "return await import('qjs:os')"),
    ("import-file", "return await import('file:///etc/passwd')"),
    ("import-relative", "return await import('./secret.js')"),
    ("import-meta", "return import.meta"),
    ("require", "return require('fs')"),
    ("process-env", "return process.env"),
    ("deno", "return Deno.readTextFileSync('/etc/passwd')"),
    ("bun", "return Bun.file('/etc/passwd')"),
    ("fetch", "return await fetch('http://127.0.0.1:1/')"),
    ("xhr", "return new XMLHttpRequest()"),
    ("websocket", "return new WebSocket('ws://127.0.0.1:1')"),
    ("webassembly", "return WebAssembly.instantiate(new Uint8Array([0,97,115,109,1,0,0,0]))"),
    ("worker", "return new Worker('x.js')"),
    ("atomics-wait", "return Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0)"),
    ("print", "print('hello'); return 1"),
    ("std-global", "return std.loadFile('/etc/passwd')"),
    ("os-exec", "return os.exec(['ls'])"),
    (
        "globalthis-scan",
        "const out = {}; for (const k of Reflect.ownKeys(globalThis)) out[String(k)] = typeof globalThis[k]; return Object.keys(out).filter(k => /std|os|process|require|fetch|env/i.test(k))",
    ),
    ("error-stack-paths", "try { null.x } catch (e) { return e.stack }"),
    (
        "prepare-stack-trace",
        "Error.prepareStackTrace = (e, s) => s; try { null.x } catch (e) { return typeof e.stack }",
    ),
    # -- the bridge -------------------------------------------------------------------------
    (
        "proto-pollution-bridge",
        "Object.prototype.then = (r) => r('forged'); return await codemode.echo({})",
    ),
    (
        "array-proto-push",
        "Array.prototype.push = function () { return 0 }; return await codemode.echo({a: 1})",
    ),
    (
        "json-stringify-hijack",
        "JSON.stringify = () => '{\"forged\":true}'; return await codemode.echo({real: 1})",
    ),
    (
        "json-parse-hijack",
        "JSON.parse = () => ({forged: true}); return await codemode.echo({real: 1})",
    ),
    ("promise-hijack", "Promise.prototype.then = function () {}; return await codemode.echo({})"),
    (
        "map-hijack",
        "Map.prototype.set = () => {}; Map.prototype.get = () => [() => {}, () => {}]; return await codemode.echo({})",
    ),
    (
        "redefine-codemode",
        "globalThis.codemode = {echo: async () => 'fake'}; return await codemode.echo({})",
    ),
    ("delete-codemode", "delete globalThis.codemode; return typeof codemode"),
    (
        "proxy-trap-probe",
        "return [Object.getOwnPropertyNames(codemode), Reflect.ownKeys(codemode)]",
    ),
    ("call-unlisted", "return await codemode.admin_delete_everything({})"),
    (
        "call-proto-names",
        "return await Promise.allSettled(['__proto__', 'constructor', 'toString', 'valueOf'].map(n => codemode[n]()))",
    ),
    (
        "forge-call-id",
        "const p = codemode.echo({a: 1}); globalThis.__settle = 1; return [await p, typeof settle, typeof collect]",
    ),
    (
        "json-proto-key-args",
        'return await codemode.echo(JSON.parse(\'{"__proto__": {"admin": true}, "a": 1}\'))',
    ),
    (
        "getter-in-args",
        "let n = 0; const o = {get x() { n++; return n }}; await codemode.echo(o); return n",
    ),
    ("getter-throws-in-result", "return {get boom() { throw new Error('getter') }}"),
    ("symbol-in-result", "return {[Symbol('s')]: 1, s: Symbol('x')}"),
    ("tojson-loop", "const o = {toJSON() { return o }}; return o"),
    ("huge-args", "return await codemode.echo({blob: 'x'.repeat(5_000_000)})"),
    (
        "many-calls",
        "const ps = []; for (let i = 0; i < 100000; i++) ps.push(codemode.echo({i})); return (await Promise.allSettled(ps)).length",
    ),
    # -- denial of service -----------------------------------------------------------------
    ("infinite-loop", "while (true) {}"),
    ("infinite-loop-after-await", "await codemode.echo({}); for (;;) {}"),
    (
        "infinite-microtasks",
        "const spin = () => Promise.resolve().then(spin); spin(); await new Promise(() => {})",
    ),
    ("catastrophic-regex", "return /^(a+)+$/.test('a'.repeat(64) + 'b')"),
    ("deep-recursion", "const f = n => f(n + 1) + 1; return f(0)"),
    ("deep-json", "let s = ''; for (let i = 0; i < 1e6; i++) s += '['; return JSON.parse(s)"),
    ("memory-strings", "const a = []; while (true) a.push('y'.repeat(1 << 20))"),
    ("memory-arrays", "const a = []; while (true) a.push(new Array(1e6).fill(1.5))"),
    ("memory-buffers", "const a = []; while (true) a.push(new ArrayBuffer(8 << 20))"),
    ("huge-string-result", "return 'z'.repeat(50_000_000)"),
    ("huge-log", "for (let i = 0; i < 1e6; i++) console.log('spam '.repeat(100))"),
    ("date-spin", "const end = Date.now() + 60_000; while (Date.now() < end) {}"),
    ("throw-in-catch-loop", "for (;;) { try { throw new Error() } catch (e) {} }"),
    ("never-settles", "await new Promise(() => {})"),
    ("sort-bomb", "return new Array(3e6).fill(0).map(Math.random).sort()"),
]
