// The guest half of the host bridge. Evaluated once per instance, before any agent code; it
// returns the functions the host keeps handles to and defines only `console` and `codemode` on
// the global object. Intrinsics are captured up front so agent code that patches JSON, Array,
// Promise or Object.prototype cannot break or steer the bridge.
(function () {
  "use strict";
  const G = globalThis;
  const stringify = JSON.stringify;
  const parse = JSON.parse;
  const isArray = Array.isArray;
  const defineProperty = Object.defineProperty;
  const freeze = Object.freeze;
  const create = Object.create;
  const getPrototypeOf = Object.getPrototypeOf;
  const keys = Object.keys;
  const hasOwn = Object.hasOwn;
  const fromEntries = Object.fromEntries;
  const PromiseC = Promise;
  const promiseThen = Promise.prototype.then;
  const ErrorC = Error;
  const TypeErrorC = TypeError;
  const MapC = Map;
  const SetC = Set;
  const DateC = Date;
  const StringC = String;
  const apply = Reflect.apply;
  const ownKeys = Reflect.ownKeys;
  const mapGet = Map.prototype.get;
  const mapSet = Map.prototype.set;
  const mapDelete = Map.prototype.delete;
  const mapEntries = Map.prototype.entries;
  const setValues = Set.prototype.values;
  const dateToISO = Date.prototype.toISOString;
  const arrayFrom = Array.from;
  const charCodeAt = String.prototype.charCodeAt;
  const subarray = Uint16Array.prototype.subarray;
  const arraySlice = Array.prototype.slice;
  // Index writes instead of Array.prototype.push, which agent code may have replaced.
  const append = (array, value) => { array[array.length] = value; };
  const errorStack = (e) => (e !== null && typeof e === "object" ? e.stack : undefined);

  const errorClasses = { Error: ErrorC, TypeError: TypeErrorC, RangeError: RangeError };
  class LimitError extends ErrorC {}
  defineProperty(LimitError.prototype, "name", { value: "LimitError" });
  class UnserializableError extends TypeErrorC {}
  defineProperty(UnserializableError.prototype, "name", { value: "TypeError" });

  // ---- configuration, set by the host before the agent code runs ---------------------------
  let names = create(null);
  let spaceNames = create(null); // "resources" for a configured "resources.read"
  let nameList = [];
  let maxCalls = 0;
  let maxArgsBytes = 0;
  let maxResultBytes = 0;
  let maxLogBytes = 0;
  let unknownHint = "";

  // ---- state --------------------------------------------------------------------------------
  const pending = new MapC(); // id -> [resolve, reject]
  let queue = []; // [id, name, argsJson]
  let logs = []; // [level, text]
  let logBytes = 0;
  let logsCut = false;
  let nextId = 1;
  let calls = 0;
  let outcome = null; // JSON text of {"ok":..} once the top-level promise settles
  let reported = false;
  // A window on a buffer in linear memory that the host reads and writes directly: small
  // messages cross as UTF-16 code units without allocating, converting or freeing JS strings.
  let wire = null;
  const fromCharCode = String.fromCharCode;
  const WIRE_CHUNK = 8192;

  function readWire(n) {
    let text = "";
    for (let i = 0; i < n; i += WIRE_CHUNK) {
      const end = i + WIRE_CHUNK < n ? i + WIRE_CHUNK : n;
      text += apply(fromCharCode, null, apply(subarray, wire, [i, end]));
    }
    return text;
  }

  function writeWire(text) {
    if (text.length > wire.length) return text; // too big for the window: hand over the string
    if (StringC.prototype.charCodeAt === charCodeAt) {
      for (let i = 0; i < text.length; i++) wire[i] = text.charCodeAt(i);
    } else {
      for (let i = 0; i < text.length; i++) wire[i] = apply(charCodeAt, text, [i]);
    }
    return text.length;
  }

  // ---- JSON conversion with defined behaviour for values JSON cannot carry ------------------
  // BigInt -> decimal string; Date -> ISO string (its toJSON); Map -> object; Set -> array;
  // undefined/functions/symbols inside arrays -> null, inside objects -> key dropped (JSON's
  // rules) except at the top level of an argument; NaN/Infinity -> null. Cycles and getters
  // that throw are errors that name the path.
  function contains(array, value) {
    for (let i = 0; i < array.length; i++) if (array[i] === value) return true;
    return false;
  }

  function toPlain(value, path, seen) {
    switch (typeof value) {
      case "string":
      case "boolean":
        return value;
      case "number":
        return value === value && value !== Infinity && value !== -Infinity ? value : null;
      case "bigint":
        return StringC(value);
      case "undefined":
        return undefined;
      case "function":
        throw new UnserializableError(
          `a function at ${path} cannot be sent as JSON; return data, not functions`);
      case "symbol":
        throw new UnserializableError(`a symbol at ${path} cannot be sent as JSON`);
    }
    if (value === null) return null;
    if (contains(seen, value)) {
      throw new UnserializableError(
        `circular reference at ${path}: the value refers to itself and cannot be sent as JSON`);
    }
    append(seen, value);
    try {
      if (value instanceof DateC) return apply(dateToISO, value, []);
      if (value instanceof MapC) {
        const out = create(null);
        for (const [k, v] of arrayFrom(apply(mapEntries, value, []))) {
          const item = toPlain(v, `${path}.get(${stringify(StringC(k))})`, seen);
          if (item !== undefined) out[StringC(k)] = item;
        }
        return out;
      }
      if (value instanceof SetC) {
        return arrayFrom(apply(setValues, value, []), (v, i) => plainItem(v, `${path}[${i}]`, seen));
      }
      if (isArray(value)) {
        const out = [];
        for (let i = 0; i < value.length; i++) out[i] = plainItem(value[i], `${path}[${i}]`, seen);
        return out;
      }
      if (typeof value.toJSON === "function") return toPlain(value.toJSON(), path, seen);
      const out = create(null);
      for (const k of keys(value)) {
        const item = toPlain(value[k], `${path}.${k}`, seen);
        if (item !== undefined) out[k] = item;
      }
      return out;
    } finally {
      seen.length--;
    }
  }

  function plainItem(value, path, seen) {
    if (typeof value === "function" || typeof value === "symbol") {
      throw new UnserializableError(`a ${typeof value} at ${path} cannot be sent as JSON`);
    }
    const item = toPlain(value, path, seen);
    return item === undefined ? null : item;
  }

  // Arguments take JSON.stringify's fast path; only what it rejects (BigInt, cycles) or turns
  // into nothing takes the walk above, for its conversions and its error messages.
  function argumentsJson(input) {
    let json;
    try {
      json = stringify(input);
    } catch (_) {
      json = undefined;
    }
    if (json === undefined) {
      if (typeof input === "function" || typeof input === "symbol") {
        throw new TypeErrorC(`a ${typeof input} cannot be a tool input; pass data, e.g. { q: "value" }`);
      }
      json = toJson(input, "input");
    }
    return json;
  }

  function toJson(value, path) {
    const plain = toPlain(value, path, []);
    return plain === undefined ? undefined : stringify(plain);
  }

  // ---- console ------------------------------------------------------------------------------
  function formatArg(value) {
    if (typeof value === "string") return value;
    if (value instanceof ErrorC) return errorStack(value) ? `${value.name}: ${value.message}\n${value.stack}` : `${value.name}: ${value.message}`;
    if (typeof value === "function") return `[Function ${value.name || "anonymous"}]`;
    if (typeof value === "symbol" || typeof value === "bigint") {
      return typeof value === "bigint" ? `${value}n` : StringC(value);
    }
    if (value === undefined) return "undefined";
    const seen = [];
    try {
      return stringify(value, function (key, v) {
        if (typeof v === "bigint") return `${v}n`;
        if (typeof v === "function") return `[Function ${v.name || "anonymous"}]`;
        if (v !== null && typeof v === "object") {
          // `this` is the holder: drop the ancestors we have left, so shared (non-cyclic)
          // references print in full and only true cycles become "[Circular]".
          while (seen.length > 0 && seen[seen.length - 1] !== this) seen.pop();
          if (seen.indexOf(v) !== -1) return "[Circular]";
          seen.push(v);
        }
        return v;
      });
    } catch (e) {
      return StringC(value);
    }
  }

  function log(level, args) {
    if (logsCut) return;
    let text = "";
    for (let i = 0; i < args.length; i++) text += (i ? " " : "") + formatArg(args[i]);
    logBytes += text.length + 16;
    if (logBytes > maxLogBytes) {
      logsCut = true;
      append(logs, ["warn", `[console output stopped: the log cap of ${maxLogBytes} bytes was reached]`]);
      return;
    }
    append(logs, [level, text]);
  }

  const consoleObject = create(null);
  for (const level of ["log", "info", "warn", "error", "debug"]) {
    consoleObject[level] = function (...args) { log(level, args); };
  }
  consoleObject.trace = consoleObject.debug;
  freeze(consoleObject);

  // ---- codemode -----------------------------------------------------------------------------
  function editDistance(a, b) {
    const row = [];
    for (let j = 0; j <= b.length; j++) row[j] = j;
    for (let i = 1; i <= a.length; i++) {
      let prev = row[0];
      row[0] = i;
      for (let j = 1; j <= b.length; j++) {
        const cur = row[j];
        row[j] = a[i - 1] === b[j - 1] ? prev : 1 + (prev < row[j] ? (prev < row[j - 1] ? prev : row[j - 1]) : (row[j] < row[j - 1] ? row[j] : row[j - 1]));
        prev = cur;
      }
    }
    return row[b.length];
  }

  function closeMatches(name) {
    const lower = StringC(name).toLowerCase();
    const scored = [];
    for (const candidate of nameList) {
      const c = candidate.toLowerCase();
      const d = c.indexOf(lower) !== -1 || lower.indexOf(c) !== -1 ? 0 : editDistance(lower, c);
      if (d <= (lower.length > 5 ? 3 : 2)) scored.push([d, candidate]);
    }
    scored.sort((x, y) => x[0] - y[0] || (x[1] < y[1] ? -1 : 1));
    return scored.slice(0, 5).map((x) => x[1]);
  }

  function unknownName(name) {
    const near = closeMatches(name);
    const hint = near.length
      ? ` Did you mean ${near.map((n) => `codemode.${n}`).join(", ")}?`
      : " Use codemode.search(\"...\") to find tools.";
    const extra = unknownHint ? ` ${unknownHint}` : "";
    return new TypeErrorC(`codemode.${StringC(name)} is not a tool available to this code.${hint}${extra}`);
  }

  function rejectWith(error) {
    return new PromiseC((_, reject) => reject(error));
  }

  function callTool(name, input) {
    if (calls >= maxCalls) {
      return rejectWith(new LimitError(
        `tool call limit reached: at most ${maxCalls} calls per run; batch work into fewer calls`));
    }
    let argsJson;
    try {
      argsJson = argumentsJson(input === undefined ? {} : input);
    } catch (e) {
      return rejectWith(e);
    }
    if (argsJson.length > maxArgsBytes) {
      return rejectWith(new LimitError(
        `arguments of codemode.${name} are ${argsJson.length} bytes; the limit is ${maxArgsBytes} bytes`));
    }
    calls++;
    const id = nextId++;
    append(queue, [id, name, argsJson]);
    return new PromiseC((resolve, reject) => { apply(mapSet, pending, [id, [resolve, reject]]); });
  }

  // Methods are made on first use: configuring a run with a thousand names stays cheap.
  const methods = create(null);
  function method(name) {
    let fn = methods[name];
    if (fn === undefined) {
      fn = function (input) { return callTool(name, input); };
      defineProperty(fn, "name", { value: name });
      methods[name] = fn;
    }
    return fn;
  }
  // `codemode.<space>.<name>` for a configured "<space>.<name>": a read-only namespace.
  const spaces = create(null);
  function space(prefix) {
    let obj = spaces[prefix];
    if (obj === undefined) {
      obj = new Proxy(create(null), {
        get(_, prop) {
          if (typeof prop !== "string") return undefined;
          const full = `${prefix}.${prop}`;
          if (names[full] === true) return method(full);
          if (prop === "then" || prop === "toJSON") return undefined;
          return function () { return rejectWith(unknownName(full)); };
        },
        has(_, prop) { return typeof prop === "string" && names[`${prefix}.${prop}`] === true; },
        set() { return false; },
        defineProperty() { return false; },
        deleteProperty() { return false; },
        setPrototypeOf() { return false; },
      });
      spaces[prefix] = obj;
    }
    return obj;
  }
  const codemode = new Proxy(create(null), {
    get(_, prop) {
      if (typeof prop !== "string") return undefined;
      if (names[prop] === true) return method(prop);
      if (spaceNames[prop] === true) return space(prop);
      if (prop === "then" || prop === "toJSON") return undefined;
      return function () { return rejectWith(unknownName(prop)); };
    },
    has(_, prop) {
      return typeof prop === "string" && (names[prop] === true || spaceNames[prop] === true);
    },
    ownKeys() { return apply(arraySlice, nameList, []); },
    getOwnPropertyDescriptor(_, prop) {
      return typeof prop === "string" && names[prop] === true
        ? { value: method(prop), writable: false, enumerable: true, configurable: true }
        : undefined;
    },
    set() { return false; },
    defineProperty() { return false; },
    deleteProperty() { return false; },
    setPrototypeOf() { return false; },
  });

  defineProperty(G, "console", { value: consoleObject, writable: false, configurable: false, enumerable: false });
  defineProperty(G, "codemode", { value: codemode, writable: false, configurable: false, enumerable: false });

  // ---- the host's handles -------------------------------------------------------------------
  function errorInfo(e) {
    if (e instanceof ErrorC) {
      return { name: StringC(e.name), message: StringC(e.message), stack: StringC(e.stack || ""),
               limit: e instanceof LimitError, unserializable: e instanceof UnserializableError };
    }
    let message;
    try { message = typeof e === "string" ? e : stringify(e); } catch (_) { message = StringC(e); }
    return { name: "Error", message: `uncaught non-Error value thrown: ${message}`, stack: "" };
  }

  function finish(value) {
    let json;
    try {
      json = toJson(value, "result");
    } catch (e) {
      outcome = stringify({ ok: false, error: errorInfo(e) });
      return;
    }
    if (json !== undefined && json.length > maxResultBytes) {
      outcome = stringify({ ok: false, error: { name: "LimitError", limit: true,
        message: `the result is ${json.length} bytes of JSON; the limit is ${maxResultBytes} bytes. Return less: filter, summarise or paginate inside the code.`, stack: "" } });
      return;
    }
    outcome = json === undefined ? '{"ok":true}' : `{"ok":true,"value":${json}}`;
  }

  function fail(e) {
    outcome = stringify({ ok: false, error: errorInfo(e) });
  }

  return freeze({
    // attach(arrayBuffer): the shared window, created by the host over its own allocation.
    attach(buffer) {
      wire = new Uint16Array(buffer);
      return 0;
    },
    // configure(namesJson, limitsJson): the names the agent may call and the guest-side limits.
    configure(namesJson, limitsJson) {
      nameList = parse(namesJson);
      names = create(null);
      spaceNames = create(null);
      for (let i = 0; i < nameList.length; i++) {
        names[nameList[i]] = true;
        // Runs before any agent code, so String.prototype is still the original.
        const dot = nameList[i].indexOf(".");
        if (dot > 0) spaceNames[nameList[i].slice(0, dot)] = true;
      }
      const l = parse(limitsJson);
      maxCalls = l.maxCalls; maxArgsBytes = l.maxArgsBytes;
      maxResultBytes = l.maxResultBytes; maxLogBytes = l.maxLogBytes;
      unknownHint = StringC(l.unknownHint || "");
      return 0;
    },
    // start(promise, mode): mode 0 = wrapped function body (the promise gives the value);
    // 1 = async script (the promise gives {value}); 2 = like 1, then call a declared main().
    start(promise, mode) {
      const value = apply(promiseThen, PromiseC.resolve(promise), [
        (r) => {
          const v = mode === 0 ? r : r && r.value;
          if (typeof v === "function") return v();
          if (mode === 2 && v === undefined && typeof G.main === "function") return G.main();
          return v;
        },
      ]);
      apply(promiseThen, value, [finish, fail]);
      return 0;
    },
    // collect(): 0 when nothing is new, else JSON {c: calls, l: logs, o: outcome}: its length
    // when written to the wire, or the string itself when it does not fit.
    collect() {
      if (queue.length === 0 && logs.length === 0 && (outcome === null || reported)) return 0;
      let out = '{"c":[';
      for (let i = 0; i < queue.length; i++) {
        const call = queue[i];
        out += `${i ? "," : ""}[${call[0]},${stringify(call[1])},${call[2]}]`;
      }
      out += logs.length ? `],"l":${stringify(logs)}` : '],"l":[]';
      if (outcome !== null && !reported) { out += `,"o":${outcome}`; reported = true; }
      queue = [];
      logs = [];
      return writeWire(out + "}");
    },
    // settle(json | length on the wire): [[id, 1, value] | [id, 0, {message, retryable, code}]]
    settle(json) {
      const batch = parse(typeof json === "number" ? readWire(json) : json);
      for (let i = 0; i < batch.length; i++) {
        const id = batch[i][0], ok = batch[i][1], payload = batch[i][2];
        const entry = apply(mapGet, pending, [id]);
        if (entry === undefined) continue;
        apply(mapDelete, pending, [id]);
        if (ok) {
          entry[0](payload);
        } else {
          const ErrorClass = errorClasses[payload.name] || ErrorC;
          const error = new ErrorClass(payload.message);
          if (payload.code !== undefined) error.code = payload.code;
          error.retryable = !!payload.retryable;
          entry[1](error);
        }
      }
      return 0;
    },
  });
})()
