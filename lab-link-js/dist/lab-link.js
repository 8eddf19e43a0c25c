// lab-link-js, bundled by `npm run build` in lab-link-js: do not edit.

// src/errors.js
var CommandError = class extends Error {
  /** @param {CommandErrorFields} fields */
  constructor(fields) {
    super(fields.message);
    this.name = "CommandError";
    this.code = fields.code;
    this.detail = fields.detail;
    this.severity = fields.severity ?? "error";
    this.display = fields.display ?? "toast";
    this.path = fields.path;
    this.recoverable = fields.recoverable ?? true;
    this.command = fields.command;
    this.requestId = fields.requestId;
    this.version = fields.version;
  }
};

// src/frames.js
var TAG_F32 = 1;
var TAG_F64 = 2;
var FrameError = class extends Error {
  /** @param {string} message */
  constructor(message) {
    super(message);
    this.name = "FrameError";
  }
};
function decodeBinaryFrame(data) {
  const bytes = ArrayBuffer.isView(data) ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : new Uint8Array(data);
  if (bytes.length < 3) throw new FrameError(`a binary frame of ${bytes.length} bytes has no header`);
  const tag = bytes[0];
  const width = tag === TAG_F32 ? 4 : tag === TAG_F64 ? 8 : 0;
  if (width === 0) return void 0;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const idLength = view.getUint16(1, true);
  const samplesAt = 3 + idLength + 4;
  if (bytes.length < samplesAt) {
    throw new FrameError(`a binary frame of ${bytes.length} bytes cannot hold an id of ${idLength} bytes and a seq`);
  }
  if ((bytes.length - samplesAt) % width !== 0) {
    throw new FrameError(`the samples of a binary frame are ${bytes.length - samplesAt} bytes, not a multiple of ${width}`);
  }
  let id;
  try {
    id = new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(3, 3 + idLength));
  } catch {
    throw new FrameError("the stream id of a binary frame is not UTF-8");
  }
  const seq = view.getUint32(3 + idLength, true);
  const count = (bytes.length - samplesAt) / width;
  const samples = width === 4 ? new Float32Array(count) : new Float64Array(count);
  for (let i = 0; i < count; i += 1) {
    samples[i] = width === 4 ? view.getFloat32(samplesAt + 4 * i, true) : view.getFloat64(samplesAt + 8 * i, true);
  }
  return { id, seq, samples };
}

// src/pointer.js
var PointerError = class extends Error {
  /**
   * @param {string} pointer the pointer as given
   * @param {string} message what is wrong with it
   */
  constructor(pointer, message) {
    super(message);
    this.name = "PointerError";
    this.pointer = pointer;
  }
};
function parsePointer(pointer) {
  if (typeof pointer !== "string") {
    throw new PointerError(String(pointer), "a JSON Pointer must be a string");
  }
  if (pointer === "") return [];
  if (pointer[0] !== "/") {
    throw new PointerError(pointer, `the JSON Pointer ${JSON.stringify(pointer)} must be empty or start with "/"`);
  }
  return pointer.slice(1).split("/").map((token) => {
    if (/~[^01]|~$/.test(token)) {
      throw new PointerError(pointer, `the JSON Pointer ${JSON.stringify(pointer)} has a "~" that is not "~0" or "~1"`);
    }
    return token.replace(/~1/g, "/").replace(/~0/g, "~");
  });
}
function escapeToken(token) {
  return token.replace(/~/g, "~0").replace(/\//g, "~1");
}
function formatPointer(tokens) {
  return tokens.map((token) => "/" + escapeToken(String(token))).join("");
}
function getPointer(document, pointer) {
  const tokens = typeof pointer === "string" ? parsePointer(pointer) : pointer;
  let value = document;
  for (const token of tokens) {
    value = child(value, token);
    if (value === void 0) return void 0;
  }
  return value;
}
function child(container, token) {
  if (Array.isArray(container)) {
    const index = arrayIndex(token);
    return index !== void 0 && index < container.length ? container[index] : void 0;
  }
  if (isObject(container) && Object.hasOwn(container, token)) {
    return container[token];
  }
  return void 0;
}
function arrayIndex(token) {
  return /^(0|[1-9][0-9]*)$/.test(token) ? Number(token) : void 0;
}
function isObject(value) {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

// src/patch.js
var PatchError = class extends Error {
  /**
   * @param {PatchErrorKind} kind
   * @param {number} index the failing operation's index in the patch
   * @param {string} message
   */
  constructor(kind, index, message) {
    super(`operation ${index}: ${message}`);
    this.name = "PatchError";
    this.kind = kind;
    this.index = index;
  }
};
function applyPatch(document, patch) {
  if (!Array.isArray(patch)) {
    throw new PatchError("invalid_operation", 0, "a patch must be an array of operations");
  }
  const apply = new Application(document);
  patch.forEach((operation, index) => apply.operation(operation, index));
  return apply.root;
}
function jsonEqual(a, b) {
  if (a === b) return true;
  if (Array.isArray(a)) {
    return Array.isArray(b) && a.length === b.length && a.every((value, i) => jsonEqual(value, b[i]));
  }
  if (isObject(a) && isObject(b)) {
    const keys = Object.keys(a);
    return keys.length === Object.keys(b).length && keys.every((key) => Object.hasOwn(b, key) && jsonEqual(a[key], b[key]));
  }
  return false;
}
var Application = class {
  /** @param {unknown} root */
  constructor(root) {
    this.root = root;
    this.fresh = /* @__PURE__ */ new WeakSet();
    this.index = 0;
  }
  /**
   * @param {unknown} operation
   * @param {number} index
   */
  operation(operation, index) {
    this.index = index;
    if (!isObject(operation)) this.fail("invalid_operation", "an operation must be an object");
    const { op } = operation;
    const path = this.pointer(operation, "path");
    switch (op) {
      case "add":
        return this.add(path, this.value(operation));
      case "remove":
        return void this.remove(path);
      case "replace": {
        const value = this.value(operation);
        this.read(path);
        return this.add(path, value, true);
      }
      case "move": {
        const from = this.pointer(operation, "from");
        if (from.length < path.length && from.every((token, i) => token === path[i])) {
          this.fail("move_into_child", `cannot move ${show(from)} into its own child ${show(path)}`);
        }
        return this.add(path, this.remove(from));
      }
      case "copy":
        return this.add(path, this.read(this.pointer(operation, "from")));
      case "test": {
        const value = this.value(operation);
        if (!jsonEqual(this.read(path), value)) {
          this.fail("test_failed", `the value at ${show(path)} is not ${JSON.stringify(value)}`);
        }
        return;
      }
      default:
        this.fail("invalid_operation", `unknown op ${JSON.stringify(op)}`);
    }
  }
  /**
   * Adds (or, with `replace`, replaces) `value` at `path`.
   *
   * @param {string[]} path
   * @param {unknown} value
   * @param {boolean} [replace]
   */
  add(path, value, replace = false) {
    if (path.length === 0) {
      this.root = value;
      return;
    }
    const parent = this.writableParent(path);
    const token = (
      /** @type {string} */
      path[path.length - 1]
    );
    if (Array.isArray(parent)) {
      if (replace) {
        parent[this.existingIndex(parent, token, path)] = value;
        return;
      }
      const index = token === "-" ? parent.length : arrayIndex(token);
      if (index === void 0 || index > parent.length) {
        this.fail("bad_index", `${show(path)}: ${JSON.stringify(token)} is not an index from 0 to ${parent.length} or "-"`);
      }
      parent.splice(index, 0, value);
    } else {
      setMember(parent, token, value);
    }
  }
  /**
   * Removes the value at `path` and returns it.
   *
   * @param {string[]} path
   * @returns {unknown}
   */
  remove(path) {
    if (path.length === 0) this.fail("invalid_operation", "cannot remove the whole document");
    const value = this.read(path);
    const parent = this.writableParent(path);
    const token = (
      /** @type {string} */
      path[path.length - 1]
    );
    if (Array.isArray(parent)) {
      parent.splice(this.existingIndex(parent, token, path), 1);
    } else {
      delete parent[token];
    }
    return value;
  }
  /**
   * The value at `path`, which must exist.
   *
   * @param {string[]} path
   * @returns {unknown}
   */
  read(path) {
    let value = this.root;
    path.forEach((token, depth) => {
      if (!Array.isArray(value) && !isObject(value)) {
        this.fail("not_a_container", `${show(path.slice(0, depth))} is not an object or array`);
      }
      const next = child(value, token);
      if (next === void 0) this.fail("missing", `nothing at ${show(path.slice(0, depth + 1))}`);
      value = next;
    });
    return value;
  }
  /**
   * The container holding `path`'s last token, copied (once per
   * application) along with every container above it.
   *
   * @param {string[]} path at least one token long
   * @returns {unknown[] | Record<string, unknown>}
   */
  writableParent(path) {
    this.root = this.writable(this.root, []);
    let container = (
      /** @type {unknown[] | Record<string, unknown>} */
      this.root
    );
    for (let depth = 0; depth < path.length - 1; depth += 1) {
      const token = (
        /** @type {string} */
        path[depth]
      );
      const next = child(container, token);
      if (next === void 0) this.fail("missing", `nothing at ${show(path.slice(0, depth + 1))}`);
      const copy = this.writable(next, path.slice(0, depth + 1));
      if (copy !== next) {
        if (Array.isArray(container)) container[Number(token)] = copy;
        else setMember(container, token, copy);
      }
      container = copy;
    }
    return container;
  }
  /**
   * `value` itself when this application made it, else a shallow copy.
   *
   * @param {unknown} value
   * @param {string[]} at its path, for the error
   * @returns {unknown[] | Record<string, unknown>}
   */
  writable(value, at) {
    if (!Array.isArray(value) && !isObject(value)) {
      this.fail("not_a_container", `${show(at)} is not an object or array`);
    }
    if (this.fresh.has(value)) return value;
    const copy = Array.isArray(value) ? value.slice() : { ...value };
    this.fresh.add(copy);
    return copy;
  }
  /**
   * @param {unknown[]} array
   * @param {string} token
   * @param {string[]} path
   * @returns {number}
   */
  existingIndex(array, token, path) {
    const index = arrayIndex(token);
    if (index === void 0 || index >= array.length) {
      this.fail("bad_index", `${show(path)}: ${JSON.stringify(token)} is not an index below ${array.length}`);
    }
    return index;
  }
  /**
   * The parsed pointer in `operation[member]`.
   *
   * @param {Record<string, unknown>} operation
   * @param {'path' | 'from'} member
   * @returns {string[]}
   */
  pointer(operation, member) {
    const pointer = operation[member];
    if (typeof pointer !== "string") this.fail("invalid_operation", `"${member}" must be a string`);
    try {
      return parsePointer(pointer);
    } catch (error) {
      if (error instanceof PointerError) this.fail("invalid_operation", error.message);
      throw error;
    }
  }
  /**
   * `operation.value`, which must be present.
   *
   * @param {Record<string, unknown>} operation
   * @returns {unknown}
   */
  value(operation) {
    if (!Object.hasOwn(operation, "value")) {
      this.fail("invalid_operation", `"${String(operation.op)}" needs a "value"`);
    }
    return operation.value;
  }
  /**
   * @param {PatchErrorKind} kind
   * @param {string} message
   * @returns {never}
   */
  fail(kind, message) {
    throw new PatchError(kind, this.index, message);
  }
};
function setMember(object, key, value) {
  Object.defineProperty(object, key, { value, writable: true, enumerable: true, configurable: true });
}
function show(tokens) {
  return JSON.stringify(formatPointer(tokens));
}

// src/streams.js
var Streams = class {
  /** @param {number} capacity the most values an append stream keeps */
  constructor(capacity) {
    this.byId = /* @__PURE__ */ new Map();
    this.capacity = capacity;
  }
  /**
   * @param {string} id
   * @param {unknown[]} data
   * @param {number} seq
   * @returns {StreamOutcome}
   */
  snapshot(id, data, seq) {
    return this.set(id, data, seq);
  }
  /**
   * @param {string} id
   * @param {unknown[]} values
   * @param {number} seq
   * @returns {StreamOutcome}
   */
  append(id, values, seq) {
    return this.inOrder(id, seq, (data) => {
      const all = Array.from(data).concat(values);
      return all.length > this.capacity ? all.slice(all.length - this.capacity) : all;
    });
  }
  /**
   * Replace updates may skip `seq`s (the latest wins), so they are not
   * checked for gaps.
   *
   * @param {string} id
   * @param {ArrayLike<unknown>} data
   * @param {number} seq
   * @returns {StreamOutcome}
   */
  replace(id, data, seq) {
    const stale = this.byId.get(id)?.stale ?? false;
    const stream = { id, data, seq, stale };
    this.byId.set(id, stream);
    return { kind: "changed", stream };
  }
  /**
   * @param {string} id
   * @param {Array<[number, number]>} deltas
   * @param {number} seq
   * @returns {StreamOutcome}
   */
  delta(id, deltas, seq) {
    return this.inOrder(id, seq, (data) => {
      const bins = Array.from(data, Number);
      for (const [bin, delta] of deltas) {
        while (bins.length <= bin) bins.push(0);
        bins[bin] = /** @type {number} */
        bins[bin] + delta;
      }
      return bins;
    });
  }
  /** Forgets every stream: a new `snapshot` is followed by theirs. */
  clear() {
    this.byId.clear();
  }
  /**
   * @param {string} id
   * @param {ArrayLike<unknown>} data
   * @param {number} seq
   * @returns {StreamOutcome}
   */
  set(id, data, seq) {
    const stream = { id, data, seq, stale: false };
    this.byId.set(id, stream);
    return { kind: "changed", stream };
  }
  /**
   * Applies an update that must come right after the one held. A stream
   * registered after the client connected starts empty at seq 0.
   *
   * @param {string} id
   * @param {number} seq
   * @param {(data: ArrayLike<unknown>) => ArrayLike<unknown>} update
   * @returns {StreamOutcome}
   */
  inOrder(id, seq, update) {
    const current = this.byId.get(id) ?? { id, data: [], seq: 0, stale: false };
    if (current.stale) return { kind: "ignored" };
    if (seq !== current.seq + 1) {
      const stream = { ...current, stale: true };
      this.byId.set(id, stream);
      return { kind: "gap", stream, expected: current.seq + 1, got: seq };
    }
    return this.set(id, update(current.data), seq);
  }
};

// src/client.js
var OPEN = 1;
var DEFAULT_RECONNECT = { initialDelayMs: 250, maxDelayMs: 1e4, factor: 2, jitter: 0.25 };
var CLOSE_AUTH_EXPIRED = 4401;
var LabLinkClient = class {
  /** The server's document at `#version`, as confirmed by the server. */
  /** @type {unknown} */
  #confirmed = void 0;
  /** `#confirmed` with the optimistic edits of unanswered commands applied: what `state` shows. */
  /** @type {unknown} */
  #view = void 0;
  /** The optimistic edits of unanswered commands, by `requestId`, in sending order. */
  /** @type {Map<string, unknown[]>} */
  #optimistic = /* @__PURE__ */ new Map();
  #version = -1;
  /** @type {string | undefined} */
  #clientId = void 0;
  /** @type {ClientEvents['status']['status']} */
  #status = "closed";
  /** Patches are dropped until the next snapshot. */
  #awaitingSnapshot = true;
  /** @type {SocketLike | undefined} */
  #socket = void 0;
  #closedByUser = true;
  #attempt = 0;
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  #timer = void 0;
  #nextRequest = 0;
  /** @type {Map<string, { resolve: (result: unknown) => void, reject: (error: CommandError) => void, command: string, onProgress?: (progress: CommandProgress) => void }>} */
  #pending = /* @__PURE__ */ new Map();
  /** The commands running on the server (level 2), oldest first; a new array on each change. */
  /** @type {readonly RunningCommand[]} */
  #running = Object.freeze([]);
  /** @type {Set<{ tokens: string[], callback: PointerCallback, last: unknown }>} */
  #subscriptions = /* @__PURE__ */ new Set();
  /** @type {Map<string, Set<(stream: StreamState) => void>>} */
  #streamListeners = /* @__PURE__ */ new Map();
  /** @type {{ [K in keyof ClientEvents]?: Set<(event: ClientEvents[K]) => void> }} */
  #listeners = {};
  /** @type {Array<{ resolve: () => void, reject: (error: Error) => void }>} */
  #waiters = [];
  /** The `Cookie` header of a session logged in from outside a browser. */
  /** @type {string | undefined} */
  #sessionCookie = void 0;
  #streams;
  #options;
  /** @param {ClientOptions} [options] */
  constructor(options = {}) {
    const location = (
      /** @type {{ location?: { origin: string } }} */
      globalThis.location
    );
    const url = options.url ?? location?.origin;
    if (url === void 0) throw new TypeError("LabLinkClient needs a `url` outside a browser");
    this.#options = {
      ...options,
      url: url.replace(/\/+$/, ""),
      prefix: options.prefix ?? "/sync",
      level: options.level ?? 1,
      resume: options.resume ?? true
    };
    this.#streams = new Streams(options.streamCapacity ?? 1e4);
    this.commands = new Proxy(
      /** @type {Record<string, never>} */
      {},
      {
        get: (_, name) => typeof name === "string" ? (params, options2) => this.command(name, params, options2) : void 0
      }
    );
  }
  /**
   * The replica of the server's document, with the optimistic edits of
   * commands still waiting for their answer; `undefined` before the first
   * snapshot.
   */
  get state() {
    return this.#view;
  }
  /** The replica's version; -1 before the first snapshot. */
  get version() {
    return this.#version;
  }
  /** This connection's id (level 2 `clientId`), which its commands' patches carry. */
  get clientId() {
    return this.#clientId;
  }
  /**
   * The commands running on the server, whoever started them, oldest
   * first (level 2; always empty at level 1). A new array after each
   * change, announced by a `running` event.
   *
   * @example
   * client.on('running', ({ running }) => {
   *   list.textContent = running.map((r) => `${r.command} ${Math.round((r.progress?.fraction ?? 0) * 100)} %`).join(', ');
   * });
   *
   * @returns {readonly RunningCommand[]}
   */
  get running() {
    return this.#running;
  }
  /** `connecting`, `open`, `closed`, or `unauthorized` after a refused or ended credential. */
  get status() {
    return this.#status;
  }
  /**
   * Opens the socket (and keeps it open, reconnecting, until `close`).
   * Resolves once the replica holds the server's state.
   *
   * @returns {Promise<void>}
   * @throws {Error} (rejects) when the credential is refused or `close` is called first
   */
  connect() {
    const ready = new Promise((resolve, reject) => this.#waiters.push({ resolve: () => resolve(), reject }));
    if (this.#closedByUser || this.#status === "unauthorized") {
      this.#closedByUser = false;
      this.#attempt = 0;
      this.#open();
    } else if (this.#status === "open" && !this.#awaitingSnapshot) {
      this.#settleWaiters();
    }
    return ready;
  }
  /** Closes the socket for good; pending commands reject with `connection_lost`. */
  close() {
    this.#closedByUser = true;
    clearTimeout(this.#timer);
    const socket = this.#socket;
    this.#socket = void 0;
    if (socket) {
      socket.onclose = null;
      socket.close(1e3, "client closed");
    }
    this.#lost("the client was closed");
    this.#rejectWaiters(new Error("the client was closed"));
    this.#setStatus({ status: "closed" });
  }
  /**
   * Runs the command `name` on the server. Resolves with its `result`
   * once its ack arrives, by which time its patches are in the replica.
   * At level 2, `onProgress` hears its progress and `signal` cancels it.
   *
   * @example
   * const { value } = await client.command('set_channel', { channel: 0, value: 1.25 });
   *
   * @param {string} name
   * @param {object} [params] the command's parameters by name
   * @param {CommandOptions} [options]
   * @returns {Promise<unknown>}
   * @throws {CommandError} (rejects) the server's `command_error` (such as
   *   `cancelled`, `timeout`, `busy`), or `not_connected`,
   *   `connection_lost`, `invalid_params` (not JSON), `level_2_required`
   */
  command(name, params = {}, options = {}) {
    return this.startCommand(name, params, options).result;
  }
  /**
   * Sends the command `name` and returns at once with its handle: its
   * `requestId`, the promise of its `result` (as `command`), and
   * `cancel()` for a Stop button (level 2).
   *
   * @example
   * const ramp = client.startCommand('ramp_channel', { channel: 0, target: 5, rate_v_per_s: 1 }, {
   *   onProgress: ({ fraction }) => (bar.value = fraction),
   * });
   * stop.onclick = () => ramp.cancel();
   * const { value } = await ramp.result;
   *
   * @param {string} name
   * @param {object} [params] the command's parameters by name
   * @param {CommandOptions} [options]
   * @returns {CommandHandle}
   */
  startCommand(name, params = {}, options = {}) {
    const requestId = `js${this.#nextRequest += 1}`;
    const refused = (error) => ({ requestId, result: Promise.reject(error), cancel: () => false });
    if (this.#options.level < 2 && (options.onProgress || options.signal)) {
      return refused(levelRequired("progress and cancellation", name, requestId));
    }
    const socket = this.#socket;
    if (!socket || socket.readyState !== OPEN) {
      return refused(new CommandError({ code: "not_connected", message: "not connected to the server", command: name, requestId }));
    }
    if (options.signal?.aborted) {
      return refused(new CommandError({ code: "cancelled", message: "cancelled before it was sent", command: name, requestId }));
    }
    let text;
    try {
      text = JSON.stringify({ type: "command", command: name, params, requestId });
    } catch (error) {
      return refused(new CommandError({ code: "invalid_params", message: `the params are not JSON: ${error}`, display: "inline", command: name, requestId }));
    }
    if (options.optimistic) {
      try {
        applyPatch(this.#view, options.optimistic);
      } catch (error) {
        if (!(error instanceof PatchError)) throw error;
        return refused(
          new CommandError({ code: "invalid_params", message: `the optimistic edit does not apply: ${error.message}`, display: "inline", command: name, requestId })
        );
      }
    }
    const result = new Promise((resolve, reject) => {
      this.#pending.set(requestId, { resolve, reject, command: name, onProgress: options.onProgress });
      socket.send(text);
      if (options.optimistic) {
        this.#optimistic.set(requestId, options.optimistic);
        this.#refresh(false);
      }
      options.signal?.addEventListener("abort", () => this.cancel(requestId), { once: true });
    });
    return { requestId, result, cancel: () => this.cancel(requestId) };
  }
  /**
   * Asks the server to cancel this connection's command `requestId`
   * (level 2). The command stops where it is, keeps what it changed, and
   * its promise rejects with the code `cancelled`. Returns false, sending
   * nothing, when no such command is waiting for its answer.
   *
   * @example
   * const ramp = client.startCommand('ramp_channel', { channel: 0, target: 5, rate_v_per_s: 1 });
   * client.cancel(ramp.requestId);
   *
   * @param {string} requestId
   * @returns {boolean} whether a `cancel` was sent
   * @throws {CommandError} `level_2_required` on a level-1 client
   */
  cancel(requestId) {
    const pending = this.#pending.get(requestId);
    if (this.#options.level < 2) throw levelRequired("cancel", pending?.command, requestId);
    if (!pending || this.#socket?.readyState !== OPEN) return false;
    this.#send({ type: "cancel", requestId });
    return true;
  }
  /**
   * Calls `callback(value, version)` with the value at `pointer` now (if
   * there is a replica) and whenever that subtree changes; not for patches
   * elsewhere. Returns the function that unsubscribes.
   *
   * @example
   * const off = client.subscribe('/acquisition/running', (running) => button.toggle(running));
   * off();
   *
   * @param {string} pointer a JSON Pointer, `''` for the whole document
   * @param {PointerCallback} callback
   * @returns {() => void}
   * @throws {import('./pointer.js').PointerError} when the pointer is not well formed
   */
  subscribe(pointer, callback) {
    const subscription = { tokens: parsePointer(pointer), callback, last: (
      /** @type {unknown} */
      void 0
    ) };
    this.#subscriptions.add(subscription);
    if (this.#version >= 0) {
      subscription.last = getPointer(this.#view, subscription.tokens);
      this.#call(() => callback(subscription.last, this.#version));
    }
    return () => void this.#subscriptions.delete(subscription);
  }
  /**
   * Calls `callback(stream)` with the stream now (if held) and after each
   * of its updates. Returns the function that unsubscribes.
   *
   * @example
   * client.subscribeStream('counts', ({ data }) => plot(data));
   *
   * @param {string} id
   * @param {(stream: StreamState) => void} callback
   * @returns {() => void}
   */
  subscribeStream(id, callback) {
    const listeners = this.#streamListeners.get(id) ?? /* @__PURE__ */ new Set();
    this.#streamListeners.set(id, listeners);
    listeners.add(callback);
    const stream = this.#streams.byId.get(id);
    if (stream) this.#call(() => callback(stream));
    return () => void listeners.delete(callback);
  }
  /**
   * The stream `id` as held, or `undefined` before its first message.
   *
   * @param {string} id
   * @returns {StreamState | undefined}
   */
  stream(id) {
    return this.#streams.byId.get(id);
  }
  /**
   * Listens to `type`; returns the function that stops listening.
   *
   * @example
   * client.on('problem', (problem) => console.warn(problem.kind, problem.message));
   * client.on('auth', () => showLogin());
   *
   * @template {keyof ClientEvents} K
   * @param {K} type
   * @param {(event: ClientEvents[K]) => void} handler
   * @returns {() => void}
   */
  on(type, handler) {
    const listeners = (
      /** @type {Set<(event: ClientEvents[K]) => void>} */
      this.#listeners[type] ?? /* @__PURE__ */ new Set()
    );
    this.#listeners[type] = listeners;
    listeners.add(handler);
    return () => void listeners.delete(handler);
  }
  /** Asks the server for a fresh snapshot; patches are dropped until it arrives. */
  resync() {
    this.#awaitingSnapshot = true;
    this.#send({ type: "resync" });
  }
  /**
   * `GET {prefix}/auth/status`: `{configured, authorized, principal}`.
   *
   * @returns {Promise<{ configured: boolean, authorized: boolean, principal: unknown }>}
   */
  async authStatus() {
    return (await this.#http("GET", "/auth/status")).json();
  }
  /**
   * Logs in with the passphrase (`POST {prefix}/auth/login`) and, if the
   * client was refused, connects again. In a browser the session is the
   * `lab_link_session` cookie the browser keeps; elsewhere the client
   * keeps it itself.
   *
   * @param {string} passphrase
   * @param {{ remember?: boolean, deviceName?: string, setup?: boolean }} [options]
   *   `setup` chooses the first passphrase (`POST {prefix}/auth/setup`,
   *   from the instrument computer only)
   * @returns {Promise<unknown>} the session response
   * @throws {AuthError} (rejects) with the server's `code` and status
   */
  async login(passphrase, options = {}) {
    const { setup = false, ...rest } = options;
    const response = await this.#http("POST", setup ? "/auth/setup" : "/auth/login", { passphrase, ...rest });
    const cookie = response.headers.get("set-cookie")?.match(/lab_link_session=[^;]*/)?.[0];
    if (cookie) this.#sessionCookie = cookie;
    const body = await response.json();
    if (this.#status === "unauthorized" && !this.#closedByUser) this.#open();
    return body;
  }
  /**
   * Ends the session (`POST {prefix}/auth/logout`); the server closes the
   * socket with 4401, reported as an `auth` event.
   *
   * @returns {Promise<void>}
   */
  async logout() {
    await this.#http("POST", "/auth/logout");
    this.#sessionCookie = void 0;
  }
  /**
   * `GET {prefix}/schema`: the state's, commands' and streams' schemas and
   * the `schemaHash`.
   *
   * @returns {Promise<{ state: unknown, commands: Record<string, unknown>, streams: unknown[], schemaHash: string }>}
   */
  async schema() {
    return (await this.#http("GET", "/schema")).json();
  }
  // ---- the socket
  #open() {
    clearTimeout(this.#timer);
    const Socket = this.#options.WebSocket ?? /** @type {SocketConstructor | undefined} */
    /** @type {any} */
    globalThis.WebSocket;
    if (!Socket) throw new TypeError("no WebSocket: pass the `WebSocket` option (the `ws` package under Node)");
    const query = new URLSearchParams();
    if (this.#options.resume && this.#version >= 0) query.set("since", String(this.#version));
    if (this.#options.level >= 2) query.set("level", "2");
    const search = query.size > 0 ? `?${query}` : "";
    const url = `${this.#options.url.replace(/^http/, "ws")}${this.#options.prefix}/ws${search}`;
    const headers = this.#headers();
    const socket = Object.keys(headers).length > 0 ? new Socket(url, [], { headers }) : new Socket(url);
    socket.binaryType = "arraybuffer";
    this.#socket = socket;
    this.#awaitingSnapshot = true;
    let opened = false;
    this.#setStatus({ status: "connecting" });
    socket.onopen = () => {
      opened = true;
      this.#attempt = 0;
      this.#setStatus({ status: "open" });
    };
    socket.onmessage = (event) => {
      if (this.#socket === socket) this.#receive(event.data);
    };
    socket.onerror = () => {
    };
    socket.onclose = (event) => {
      if (this.#socket !== socket) return;
      this.#socket = void 0;
      this.#lost(`the connection closed (${event.code}${event.reason ? `: ${event.reason}` : ""})`);
      if (event.code === CLOSE_AUTH_EXPIRED) {
        this.#unauthorized("expired", event.reason || "Authentication expired", event.code);
      } else if (!opened) {
        void this.#checkRefused(event);
      } else {
        this.#setStatus({ status: "closed", code: event.code, reason: event.reason });
        this.#scheduleReconnect();
      }
    };
  }
  /**
   * A socket that closed before it opened: a refused handshake (HTTP 403,
   * which a browser cannot see) or an unreachable server. The auth status
   * tells them apart.
   *
   * @param {{ code: number, reason: string }} event
   */
  async #checkRefused(event) {
    let refused = false;
    try {
      const status = await this.authStatus();
      refused = status.configured !== void 0 && status.authorized === false;
    } catch {
    }
    if (this.#closedByUser) return;
    if (refused) {
      this.#unauthorized("refused", "the server refused the connection: log in, or pass a token", event.code);
    } else {
      this.#setStatus({ status: "closed", code: event.code, reason: event.reason });
      this.#scheduleReconnect();
    }
  }
  /**
   * @param {'expired' | 'refused'} reason
   * @param {string} message
   * @param {number} code
   */
  #unauthorized(reason, message, code) {
    this.#setStatus({ status: "unauthorized", code, reason: message });
    this.#emit("auth", { reason, code, message });
    this.#rejectWaiters(new Error(message));
  }
  #scheduleReconnect() {
    const reconnect = this.#options.reconnect;
    if (this.#closedByUser || reconnect === false) {
      this.#rejectWaiters(new Error("the connection closed"));
      return;
    }
    const { initialDelayMs, maxDelayMs, factor, jitter } = { ...DEFAULT_RECONNECT, ...reconnect };
    const delay = Math.min(maxDelayMs, initialDelayMs * factor ** this.#attempt) * (1 - jitter * Math.random());
    this.#attempt += 1;
    this.#timer = setTimeout(() => this.#open(), delay);
  }
  /**
   * Rejects every command waiting for an answer: it may or may not have run.
   *
   * @param {string} why
   */
  #lost(why) {
    for (const [requestId, pending] of this.#pending) {
      pending.reject(new CommandError({ code: "connection_lost", message: `${why} before the answer arrived: look at the state to see whether it ran`, command: pending.command, requestId }));
    }
    this.#pending.clear();
    if (this.#optimistic.size > 0) {
      this.#optimistic.clear();
      this.#refresh(false);
    }
    if (this.#running.length > 0) this.#setRunning({ running: Object.freeze([]), change: "cleared" });
  }
  // ---- frames in
  /**
   * Handles one frame. Never throws.
   *
   * @param {unknown} data a string (text frame) or binary data
   */
  #receive(data) {
    if (typeof data !== "string") {
      this.#receiveBinary(data);
      return;
    }
    let message;
    try {
      message = JSON.parse(data);
    } catch {
      this.#problem("malformed_frame", "a text frame is not JSON", data);
      return;
    }
    if (!isObject(message) || typeof message.type !== "string") {
      this.#problem("malformed_frame", 'a message is not an object with a string "type"', data);
      return;
    }
    try {
      this.#handle(message);
    } catch (error) {
      this.#problem("malformed_frame", `a ${JSON.stringify(message.type)} message could not be handled: ${error}`, message);
    }
  }
  /** @param {Record<string, unknown>} message */
  #handle(message) {
    switch (message.type) {
      case "snapshot":
        return this.#snapshot(message);
      case "resume":
        return this.#resume(message);
      case "patch":
        return this.#patch(message);
      case "command_ack":
      case "command_error":
        return this.#answer(message);
      case "command_progress":
        return this.#commandProgress(message);
      case "running_commands":
      case "running_started":
      case "running_progress":
      case "running_finished":
        return this.#runningMessage(message);
      case "stream_snapshot":
      case "stream_append":
      case "stream_replace":
      case "stream_delta":
        return this.#streamMessage(message);
      case "error":
        return message.code === "unknown_request" ? this.#problem("unknown_request", `nothing to cancel: ${String(message.message)}`, message) : this.#problem("bad_message", `the server could not read a frame: ${String(message.message)}`, message);
      default:
        return this.#problem("unknown_message", `unknown message type ${JSON.stringify(message.type)}, ignored`, message);
    }
  }
  /** @param {Record<string, unknown>} message */
  #snapshot(message) {
    const { version } = message;
    if (!isVersion(version) || !("data" in message)) {
      this.#problem("malformed_frame", 'a snapshot without "data" or an integer "version"', message);
      this.resync();
      return;
    }
    if (typeof message.clientId === "string") this.#clientId = message.clientId;
    this.#confirmed = message.data;
    this.#version = version;
    this.#awaitingSnapshot = false;
    this.#streams.clear();
    this.#checkSchema(message);
    this.#refresh(true);
    this.#emit("snapshot", { state: this.#view, version, clientId: this.#clientId, resumed: false });
    this.#ready();
  }
  /** @param {Record<string, unknown>} message */
  #resume(message) {
    if (message.version !== this.#version || this.#version < 0) {
      this.#problem("resume_mismatch", `resumed at version ${String(message.version)}, the replica is at ${this.#version}: resyncing`, message);
      this.resync();
      return;
    }
    this.#awaitingSnapshot = false;
    this.#checkSchema(message);
    this.#emit("snapshot", { state: this.#view, version: this.#version, clientId: this.#clientId, resumed: true });
    this.#ready();
  }
  /** @param {Record<string, unknown>} message */
  #patch(message) {
    if (this.#awaitingSnapshot) return;
    const { version, patch } = message;
    if (!isVersion(version) || !Array.isArray(patch)) {
      this.#problem("malformed_frame", 'a patch without an array "patch" or an integer "version": resyncing', message);
      this.resync();
      return;
    }
    if (version !== this.#version + 1) {
      this.#problem("version_gap", `patch version ${version} after version ${this.#version}: resyncing`, message);
      this.resync();
      return;
    }
    try {
      this.#confirmed = applyPatch(this.#confirmed, patch);
    } catch (error) {
      if (!(error instanceof PatchError)) throw error;
      this.#problem("patch_failed", `patch version ${version} does not apply (${error.message}): resyncing`, message);
      this.resync();
      return;
    }
    this.#version = version;
    const meta = {};
    for (
      const key of
      /** @type {const} */
      ["originClientId", "requestId", "command"]
    ) {
      if (typeof message[key] === "string") meta[key] = /** @type {string} */
      message[key];
    }
    const own = meta.originClientId !== void 0 && meta.originClientId === this.#clientId;
    if (own && meta.requestId !== void 0) this.#optimistic.delete(meta.requestId);
    this.#refresh(false);
    this.#emit("patch", { state: this.#view, version, patch, meta, own });
  }
  /** @param {Record<string, unknown>} message */
  #answer(message) {
    const requestId = String(message.requestId);
    const pending = this.#pending.get(requestId);
    if (!pending) return;
    this.#pending.delete(requestId);
    if (this.#optimistic.delete(requestId)) this.#refresh(false);
    if (message.type === "command_ack") {
      pending.resolve(message.result);
      return;
    }
    const field = (key) => typeof message[key] === "string" ? (
      /** @type {string} */
      message[key]
    ) : void 0;
    pending.reject(
      new CommandError({
        code: field("code") ?? "command_failed",
        message: field("message") ?? "the command failed",
        detail: field("detail"),
        severity: (
          /** @type {CommandError['severity'] | undefined} */
          field("severity")
        ),
        display: (
          /** @type {CommandError['display'] | undefined} */
          field("display")
        ),
        path: field("path"),
        recoverable: typeof message.recoverable === "boolean" ? message.recoverable : void 0,
        command: field("command") ?? pending.command,
        requestId: message.requestId,
        version: isVersion(message.version) ? message.version : void 0
      })
    );
  }
  /** @param {Record<string, unknown>} message */
  #commandProgress(message) {
    const { requestId } = message;
    const progress = readProgress(message);
    if (typeof requestId !== "string" || !progress) {
      this.#problem("malformed_frame", 'a command_progress without a string "requestId" or with a bad progress field', message);
      return;
    }
    const event = { requestId, ...progress };
    const onProgress = this.#pending.get(requestId)?.onProgress;
    if (onProgress) this.#call(() => onProgress(event));
    this.#emit("progress", event);
  }
  /**
   * Keeps `#running` current. The list is off the versioned state, so a
   * message that cannot be read leaves nothing to check it against: it
   * resyncs, and the server sends the whole list again after the snapshot.
   *
   * @param {Record<string, unknown>} message
   */
  #runningMessage(message) {
    let change;
    const { id } = message;
    if (message.type === "running_commands") {
      const commands = Array.isArray(message.commands) ? message.commands.map(readRunning) : [];
      if (Array.isArray(message.commands) && commands.every((entry) => entry !== void 0)) {
        change = { running: Object.freeze(
          /** @type {RunningCommand[]} */
          commands
        ), change: "list" };
      }
    } else if (message.type === "running_started") {
      const command = readRunning(message);
      if (command) change = { running: Object.freeze([...this.#running.filter((entry) => entry.id !== command.id), command]), change: "started", command };
    } else if (isVersion(id)) {
      const entry = this.#running.find((running) => running.id === id);
      if (message.type === "running_progress") {
        const progress = readProgress(message.progress);
        if (progress) {
          const command = entry && { ...entry, progress };
          change = { running: Object.freeze(this.#running.map((running) => running === entry && command ? command : running)), change: "progress", command };
        }
      } else if (typeof message.outcome === "string") {
        change = { running: Object.freeze(this.#running.filter((running) => running !== entry)), change: "finished", command: entry, outcome: message.outcome };
      }
    }
    if (!change) {
      this.#problem("malformed_frame", `a ${String(message.type)} message with a missing or mistyped field: resyncing`, message);
      this.resync();
      return;
    }
    if (change.change !== "list" && change.change !== "started" && !change.command) return;
    this.#setRunning(change);
  }
  /** @param {RunningChange} change */
  #setRunning(change) {
    this.#running = change.running;
    this.#emit("running", change);
  }
  /** @param {Record<string, unknown>} message */
  #streamMessage(message) {
    const { id, seq } = message;
    const values = message.type === "stream_delta" ? message.deltas : message.data;
    const wellFormed = typeof id === "string" && isVersion(seq) && Array.isArray(values) && (message.type !== "stream_delta" || values.every((pair) => Array.isArray(pair) && pair.length === 2 && isVersion(pair[0]) && Number.isInteger(pair[1])));
    if (!wellFormed) {
      this.#problem("malformed_frame", `a ${String(message.type)} message with a bad "id", "seq" or payload`, message);
      if (typeof id === "string") this.#send({ type: "stream_resync", id });
      return;
    }
    const outcome = message.type === "stream_snapshot" ? this.#streams.snapshot(id, values, seq) : message.type === "stream_append" ? this.#streams.append(id, values, seq) : message.type === "stream_replace" ? this.#streams.replace(id, values, seq) : this.#streams.delta(
      id,
      /** @type {Array<[number, number]>} */
      values,
      seq
    );
    this.#streamOutcome(outcome, message);
  }
  /**
   * @param {import('./streams.js').StreamOutcome} outcome
   * @param {unknown} frame
   */
  #streamOutcome(outcome, frame) {
    if (outcome.kind === "gap") {
      this.#problem("stream_gap", `stream ${JSON.stringify(outcome.stream.id)}: seq ${outcome.got} after ${outcome.expected - 1}: resyncing it`, frame);
      this.#send({ type: "stream_resync", id: outcome.stream.id });
    } else if (outcome.kind === "changed") {
      const { stream } = outcome;
      for (const listener of this.#streamListeners.get(stream.id) ?? []) this.#call(() => listener(stream));
      this.#emit("stream", stream);
    }
  }
  /** @param {unknown} data */
  #receiveBinary(data) {
    if (!(data instanceof ArrayBuffer) && !ArrayBuffer.isView(data)) {
      this.#problem("malformed_frame", "a frame that is neither text nor binary data", data);
      return;
    }
    let frame;
    try {
      frame = decodeBinaryFrame(data);
    } catch (error) {
      if (!(error instanceof FrameError)) throw error;
      this.#problem("malformed_frame", error.message, data);
      return;
    }
    if (frame === void 0) {
      this.#problem("unknown_message", "a binary frame with an unknown tag, ignored", data);
      return;
    }
    this.#streamOutcome(this.#streams.replace(frame.id, frame.samples, frame.seq), data);
  }
  // ---- helpers
  /**
   * Reports a `schema_mismatch` when the message, or else the server's
   * `/schema`, carries another hash than the expected one.
   *
   * @param {Record<string, unknown>} message
   */
  #checkSchema(message) {
    const expected = this.#options.expectedSchemaHash;
    if (expected === void 0) return;
    const compare = (actual) => {
      if (typeof actual === "string" && actual !== expected) {
        this.#emit("problem", { kind: "schema_mismatch", message: `the server's schema is ${actual}, this client was generated for ${expected}: regenerate it`, expected, actual });
      }
    };
    if (typeof message.schemaHash === "string") {
      compare(message.schemaHash);
      return;
    }
    this.#http("GET", "/schema", void 0, { "If-None-Match": `"${expected}"` }).then(async (response) => {
      if (response.status === 200) compare((await response.json()).schemaHash);
    }).catch(() => {
    });
  }
  /**
   * Recomputes the view (the confirmed document with the optimistic edits
   * that still apply) and calls each subscription whose subtree changed.
   * After a patch, identity says it (the patch engine shares what it did
   * not touch); after a snapshot, every value is new, so they are compared.
   *
   * @param {boolean} snapshot
   */
  #refresh(snapshot) {
    const previous = this.#view;
    let view = this.#confirmed;
    for (const edit of this.#optimistic.values()) {
      try {
        view = applyPatch(view, edit);
      } catch (error) {
        if (!(error instanceof PatchError)) throw error;
      }
    }
    this.#view = view;
    if (previous === view) return;
    for (const subscription of this.#subscriptions) {
      const value = getPointer(view, subscription.tokens);
      const unchanged = snapshot ? previous !== void 0 && jsonEqual(value, subscription.last) : Object.is(value, subscription.last);
      subscription.last = value;
      if (!unchanged) this.#call(() => subscription.callback(value, this.#version));
    }
  }
  #ready() {
    if (this.#options.level >= 2 && this.#options.hello) {
      this.#send({ type: "hello", level: 2, client: { kind: "browser", ...this.#options.hello } });
      this.#options.hello = void 0;
    }
    this.#settleWaiters();
  }
  #settleWaiters() {
    const waiters = this.#waiters.splice(0);
    for (const waiter of waiters) waiter.resolve();
  }
  /** @param {Error} error */
  #rejectWaiters(error) {
    const waiters = this.#waiters.splice(0);
    for (const waiter of waiters) waiter.reject(error);
  }
  /** @param {object} message */
  #send(message) {
    if (this.#socket?.readyState === OPEN) this.#socket.send(JSON.stringify(message));
  }
  /** @returns {Record<string, string>} */
  #headers() {
    const headers = {};
    if (this.#options.token) headers.Authorization = `Bearer ${this.#options.token}`;
    if (this.#sessionCookie) headers.Cookie = this.#sessionCookie;
    return headers;
  }
  /**
   * A request to `{prefix}{path}`; a status of 400 or more rejects with an `AuthError`.
   *
   * @param {'GET' | 'POST'} method
   * @param {string} path
   * @param {object} [body]
   * @param {Record<string, string>} [extraHeaders]
   * @returns {Promise<Response>}
   */
  async #http(method, path, body, extraHeaders = {}) {
    const fetchImpl = this.#options.fetch ?? globalThis.fetch;
    const headers = { ...this.#headers(), ...extraHeaders };
    if (body !== void 0) headers["Content-Type"] = "application/json";
    const response = await fetchImpl(`${this.#options.url}${this.#options.prefix}${path}`, {
      method,
      headers,
      credentials: "same-origin",
      body: body === void 0 ? void 0 : JSON.stringify(body)
    });
    if (response.status >= 400) {
      const answer = await response.json().catch(() => ({}));
      const code = answer.error ?? answer.code ?? "http_error";
      throw new AuthError(response.status, code, answer.message ?? answer.detail ?? `HTTP ${response.status}: ${code}`);
    }
    return response;
  }
  /**
   * @param {Problem['kind']} kind
   * @param {string} message
   * @param {unknown} frame
   */
  #problem(kind, message, frame) {
    this.#emit("problem", { kind, message, frame });
  }
  /** @param {ClientEvents['status']} status */
  #setStatus(status) {
    this.#status = status.status;
    this.#emit("status", status);
  }
  /**
   * @template {keyof ClientEvents} K
   * @param {K} type
   * @param {ClientEvents[K]} event
   */
  #emit(type, event) {
    for (const handler of this.#listeners[type] ?? []) {
      if (type === "problem") {
        try {
          handler(event);
        } catch {
        }
      } else {
        this.#call(() => handler(event));
      }
    }
  }
  /**
   * Runs a callback of the application's; its exception becomes a
   * `listener_failed` problem instead of breaking the replica.
   *
   * @param {() => void} callback
   */
  #call(callback) {
    try {
      callback();
    } catch (error) {
      this.#problem("listener_failed", `a callback threw: ${error}`, error);
    }
  }
};
var AuthError = class extends Error {
  /**
   * @param {number} status the HTTP status
   * @param {string} code the server's error code (`invalid_credentials`, …)
   * @param {string} message
   */
  constructor(status, code, message) {
    super(message);
    this.name = "AuthError";
    this.status = status;
    this.code = code;
  }
};
function levelRequired(what, command, requestId) {
  return new CommandError({
    code: "level_2_required",
    message: `${what} need level 2: create the client with \`level: 2\``,
    recoverable: false,
    command,
    requestId
  });
}
var PROGRESS_FIELDS = (
  /** @type {const} */
  [["message", "string"], ["current", "number"], ["target", "number"], ["unit", "string"], ["eta_s", "number"]]
);
function readProgress(value) {
  if (!isObject(value)) return void 0;
  const { fraction } = value;
  if (typeof fraction !== "number" || !(fraction >= 0 && fraction <= 1)) return void 0;
  const progress = { fraction };
  for (const [key, type] of PROGRESS_FIELDS) {
    if (value[key] === void 0) continue;
    if (typeof value[key] !== type || type === "number" && !Number.isFinite(value[key])) return void 0;
    progress[key] = value[key];
  }
  return (
    /** @type {Progress} */
    progress
  );
}
function readRunning(value) {
  if (!isObject(value)) return void 0;
  const { id, command, clientId, startedAt, requestId, client, progress } = value;
  if (!isVersion(id) || typeof command !== "string" || typeof clientId !== "string" || !isVersion(startedAt)) return void 0;
  const entry = { id, command, clientId, startedAt };
  if (requestId !== void 0) entry.requestId = requestId;
  if (client !== void 0) {
    if (!isObject(client) || [client.kind, client.name].some((field) => field !== void 0 && typeof field !== "string")) return void 0;
    entry.client = /** @type {RunningCommand['client']} */
    client;
  }
  if (progress !== void 0) {
    const read = readProgress(progress);
    if (!read) return void 0;
    entry.progress = read;
  }
  return entry;
}
function isVersion(value) {
  return Number.isInteger(value) && /** @type {number} */
  value >= 0;
}
export {
  AuthError,
  CommandError,
  FrameError,
  LabLinkClient,
  PatchError,
  PointerError,
  TAG_F32,
  TAG_F64,
  applyPatch,
  decodeBinaryFrame,
  escapeToken,
  formatPointer,
  getPointer,
  jsonEqual,
  parsePointer
};
