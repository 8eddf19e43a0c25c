// The connection to a lab-link server: a checked replica of its state,
// commands, streams, reconnection and access control.
//
// Every frame goes through `#receive`, which never throws: a frame it
// cannot use becomes a `problem` event, and a replica that may have lost
// its base (a version gap, a patch that does not apply, a resume at
// another version) asks the server for a fresh snapshot and drops every
// patch until it arrives, so the replica resyncs instead of diverging.

import { CommandError } from './errors.js';
import { decodeBinaryFrame, FrameError } from './frames.js';
import { applyPatch, jsonEqual, PatchError } from './patch.js';
import { getPointer, isObject, parsePointer } from './pointer.js';
import { Streams } from './streams.js';

/**
 * @typedef {import('./streams.js').StreamState} StreamState
 * @typedef {import('./patch.js').PatchOperation} PatchOperation
 */

/**
 * How to reconnect after the socket drops: the delay starts at
 * `initialDelayMs`, grows by `factor` per failed attempt up to
 * `maxDelayMs`, and each delay is scaled by a random factor in
 * [1 - jitter, 1].
 *
 * @typedef {object} ReconnectOptions
 * @property {number} [initialDelayMs] 250 by default
 * @property {number} [maxDelayMs] 10000 by default
 * @property {number} [factor] 2 by default
 * @property {number} [jitter] 0.25 by default
 */

/**
 * What a WebSocket constructor must provide: the browser's `WebSocket`,
 * or the `ws` package's under Node.
 *
 * @typedef {new (url: string, protocols?: string[], options?: { headers: Record<string, string> }) => SocketLike} SocketConstructor
 */

/**
 * @typedef {object} SocketLike
 * @property {number} readyState
 * @property {string} binaryType
 * @property {(data: string) => void} send
 * @property {(code?: number, reason?: string) => void} close
 * @property {((event: unknown) => void) | null} onopen
 * @property {((event: { data: unknown }) => void) | null} onmessage
 * @property {((event: { code: number, reason: string }) => void) | null} onclose
 * @property {((event: unknown) => void) | null} onerror
 */

/**
 * @typedef {object} ClientOptions
 * @property {string} [url] the server's HTTP base, such as
 *   `http://127.0.0.1:8000`; in a browser, the page's origin by default
 * @property {string} [prefix] the sync prefix, `/sync` by default
 * @property {1 | 2} [level] 2 opts in to the level-2 messages that
 *   level-1 clients never see (`?level=2`: progress, presence, …); 1 by default
 * @property {{ kind?: string, name?: string }} [hello] at level 2, describe
 *   this client in a `hello` frame after the first snapshot
 * @property {SocketConstructor} [WebSocket] the global `WebSocket` by default
 * @property {typeof fetch} [fetch] the global `fetch` by default
 * @property {string} [token] an API token (`ll_…`), sent as
 *   `Authorization: Bearer` (not by browsers' WebSocket: use the session
 *   cookie there)
 * @property {ReconnectOptions | false} [reconnect] `false` never reconnects
 * @property {boolean} [resume] reconnect with `?since=<version>`; true by default
 * @property {number} [streamCapacity] the most values kept per append
 *   stream, 10000 by default
 * @property {string} [expectedSchemaHash] the `schemaHash` the caller was
 *   built against (generated code passes it): a server with another one
 *   is reported as a `schema_mismatch` problem
 */

/**
 * A frame or a state the client could not use. It never throws: it
 * reports, and resyncs when the replica may be wrong.
 *
 * - `malformed_frame`: not JSON, not an object, no string `type`, a field
 *   of the wrong type, a binary frame with a bad layout;
 * - `unknown_message`: a `type` (or binary tag) this runtime does not
 *   know, ignored as the protocol says;
 * - `bad_message`: the server could not read one of our frames;
 * - `version_gap`, `patch_failed`, `resume_mismatch`: the replica lost its
 *   base and resyncs; `stream_gap`: one stream missed an update and resyncs;
 * - `unknown_request`: the server had no running command to cancel (it
 *   had already answered it);
 * - `schema_mismatch`: the server's `schemaHash` is not the expected one;
 * - `listener_failed`: a callback of ours threw.
 *
 * @typedef {object} Problem
 * @property {'malformed_frame' | 'unknown_message' | 'bad_message' | 'unknown_request' | 'version_gap' | 'patch_failed' | 'resume_mismatch' | 'stream_gap' | 'schema_mismatch' | 'listener_failed'} kind
 * @property {string} message
 * @property {unknown} [frame] the frame (or the parsed message) concerned
 * @property {string} [expected] for `schema_mismatch`
 * @property {string} [actual] for `schema_mismatch`
 */

/**
 * @typedef {object} PatchMeta
 * @property {string} [originClientId]
 * @property {string} [requestId]
 * @property {string} [command]
 */

/**
 * How far a long-running command is, as it reported it: `fraction` in
 * [0, 1], and the other fields when it gave them (`eta_s`: the estimated
 * time remaining, in seconds).
 *
 * @typedef {object} Progress
 * @property {number} fraction
 * @property {string} [message]
 * @property {number} [current]
 * @property {number} [target]
 * @property {string} [unit]
 * @property {number} [eta_s]
 */

/**
 * A `command_progress`: the progress of one of this connection's commands.
 *
 * @typedef {Progress & { requestId: string }} CommandProgress
 */

/**
 * A command running on the server, started by any client (level 2).
 *
 * @typedef {object} RunningCommand
 * @property {number} id the server's id of this run
 * @property {string} command its name
 * @property {string} clientId the connection that started it (this one's is `client.clientId`)
 * @property {unknown} [requestId] its `requestId` as that client sent it
 * @property {{ kind?: string, name?: string }} [client] what that client said of itself in its `hello`
 * @property {number} startedAt milliseconds since the Unix epoch
 * @property {Progress} [progress] its latest progress
 */

/**
 * A change of `client.running`: the whole list (after each snapshot or
 * resume), a command that started, one's progress, or one that finished
 * with its `outcome` (`ok` or its error's code).
 *
 * @typedef {object} RunningChange
 * @property {readonly RunningCommand[]} running the list after the change
 * @property {'list' | 'started' | 'progress' | 'finished' | 'cleared'} change
 *   `cleared` when the connection dropped
 * @property {RunningCommand} [command] the entry concerned (before its removal for `finished`)
 * @property {string} [outcome] for `finished`
 */

/**
 * The events of `client.on(type, handler)`.
 *
 * @typedef {object} ClientEvents
 * @property {{ status: 'connecting' | 'open' | 'closed' | 'unauthorized', code?: number, reason?: string }} status
 *   the connection's status changed
 * @property {{ state: unknown, version: number, clientId: string | undefined, resumed: boolean }} snapshot
 *   the replica was reset (or, `resumed`, kept across a reconnect)
 * @property {{ state: unknown, version: number, patch: PatchOperation[], meta: PatchMeta, own: boolean }} patch
 *   a patch was applied; `own` when this connection's command caused it
 * @property {StreamState} stream a stream changed
 * @property {{ reason: 'expired' | 'refused', code?: number, message: string }} auth
 *   the credential ended (close 4401) or the handshake was refused
 * @property {Problem} problem
 * @property {CommandProgress} progress level 2: one of this connection's commands' progress
 * @property {RunningChange} running level 2: the running commands changed
 */

/**
 * @typedef {object} CommandOptions
 * @property {AbortSignal} [signal] level 2: aborting it cancels the command
 *   (`cancel`); the promise then rejects with the server's `cancelled`
 * @property {PatchOperation[]} [optimistic] edits shown in `state` at once,
 *   until the command's own patch, its ack or its error arrives (then the
 *   server's document is shown again, with or without the change)
 * @property {(progress: CommandProgress) => void} [onProgress] level 2:
 *   called with each progress report, in order, before the promise settles
 */

/**
 * A command on its way: its `requestId`, the promise of its `result`, and
 * `cancel()` (level 2), which returns whether a `cancel` was sent (false
 * once the command is answered).
 *
 * @typedef {object} CommandHandle
 * @property {string} requestId
 * @property {Promise<unknown>} result
 * @property {() => boolean} cancel
 */

/** @typedef {(value: unknown, version: number) => void} PointerCallback */

/** The WebSocket ready state of an open socket. */
const OPEN = 1;
const DEFAULT_RECONNECT = { initialDelayMs: 250, maxDelayMs: 10_000, factor: 2, jitter: 0.25 };
/** The close code of a credential that ended. */
const CLOSE_AUTH_EXPIRED = 4401;

/**
 * A replica of a lab-link server's state, kept current over the sync
 * socket, with commands and streams.
 *
 * @example
 * const client = new LabLinkClient({ url: 'http://127.0.0.1:8000' });
 * await client.connect();
 * client.subscribe('/channels/0/bias_voltage', (volts) => render(volts));
 * const { value } = await client.command('set_channel', { channel: 0, value: 1.25 });
 * client.close();
 */
export class LabLinkClient {
  /** The server's document at `#version`, as confirmed by the server. */
  /** @type {unknown} */
  #confirmed = undefined;
  /** `#confirmed` with the optimistic edits of unanswered commands applied: what `state` shows. */
  /** @type {unknown} */
  #view = undefined;
  /** The optimistic edits of unanswered commands, by `requestId`, in sending order. */
  /** @type {Map<string, unknown[]>} */
  #optimistic = new Map();
  #version = -1;
  /** @type {string | undefined} */
  #clientId = undefined;
  /** @type {ClientEvents['status']['status']} */
  #status = 'closed';
  /** Patches are dropped until the next snapshot. */
  #awaitingSnapshot = true;
  /** @type {SocketLike | undefined} */
  #socket = undefined;
  #closedByUser = true;
  #attempt = 0;
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  #timer = undefined;
  #nextRequest = 0;
  /** @type {Map<string, { resolve: (result: unknown) => void, reject: (error: CommandError) => void, command: string, onProgress?: (progress: CommandProgress) => void }>} */
  #pending = new Map();
  /** The commands running on the server (level 2), oldest first; a new array on each change. */
  /** @type {readonly RunningCommand[]} */
  #running = Object.freeze([]);
  /** @type {Set<{ tokens: string[], callback: PointerCallback, last: unknown }>} */
  #subscriptions = new Set();
  /** @type {Map<string, Set<(stream: StreamState) => void>>} */
  #streamListeners = new Map();
  /** @type {{ [K in keyof ClientEvents]?: Set<(event: ClientEvents[K]) => void> }} */
  #listeners = {};
  /** @type {Array<{ resolve: () => void, reject: (error: Error) => void }>} */
  #waiters = [];
  /** The `Cookie` header of a session logged in from outside a browser. */
  /** @type {string | undefined} */
  #sessionCookie = undefined;
  #streams;
  #options;

  /** @param {ClientOptions} [options] */
  constructor(options = {}) {
    const location = /** @type {{ location?: { origin: string } }} */ (globalThis).location;
    const url = options.url ?? location?.origin;
    if (url === undefined) throw new TypeError('LabLinkClient needs a `url` outside a browser');
    this.#options = {
      ...options,
      url: url.replace(/\/+$/, ''),
      prefix: options.prefix ?? '/sync',
      level: options.level ?? 1,
      resume: options.resume ?? true,
    };
    this.#streams = new Streams(options.streamCapacity ?? 10_000);
    /**
     * Every command as a method: `client.commands.set_channel({ channel: 0, value: 1 })`
     * is `client.command('set_channel', { channel: 0, value: 1 })`.
     * Generated declarations type each one.
     *
     * @type {Record<string, (params?: object, options?: CommandOptions) => Promise<unknown>>}
     */
    this.commands = new Proxy(/** @type {Record<string, never>} */ ({}), {
      get: (_, name) =>
        typeof name === 'string'
          ? (/** @type {object | undefined} */ params, /** @type {CommandOptions | undefined} */ options) =>
              this.command(name, params, options)
          : undefined,
    });
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
    /** @type {Promise<void>} */
    const ready = new Promise((resolve, reject) => this.#waiters.push({ resolve: () => resolve(), reject }));
    if (this.#closedByUser || this.#status === 'unauthorized') {
      this.#closedByUser = false;
      this.#attempt = 0;
      this.#open();
    } else if (this.#status === 'open' && !this.#awaitingSnapshot) {
      this.#settleWaiters();
    }
    return ready;
  }

  /** Closes the socket for good; pending commands reject with `connection_lost`. */
  close() {
    this.#closedByUser = true;
    clearTimeout(this.#timer);
    const socket = this.#socket;
    this.#socket = undefined;
    if (socket) {
      socket.onclose = null;
      socket.close(1000, 'client closed');
    }
    this.#lost('the client was closed');
    this.#rejectWaiters(new Error('the client was closed'));
    this.#setStatus({ status: 'closed' });
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
    const requestId = `js${(this.#nextRequest += 1)}`;
    /** @param {CommandError} error */
    const refused = (error) => ({ requestId, result: Promise.reject(error), cancel: () => false });
    if (this.#options.level < 2 && (options.onProgress || options.signal)) {
      return refused(levelRequired('progress and cancellation', name, requestId));
    }
    const socket = this.#socket;
    if (!socket || socket.readyState !== OPEN) {
      return refused(new CommandError({ code: 'not_connected', message: 'not connected to the server', command: name, requestId }));
    }
    if (options.signal?.aborted) {
      return refused(new CommandError({ code: 'cancelled', message: 'cancelled before it was sent', command: name, requestId }));
    }
    let text;
    try {
      text = JSON.stringify({ type: 'command', command: name, params, requestId });
    } catch (error) {
      return refused(new CommandError({ code: 'invalid_params', message: `the params are not JSON: ${error}`, display: 'inline', command: name, requestId }));
    }
    if (options.optimistic) {
      try {
        applyPatch(this.#view, options.optimistic);
      } catch (error) {
        if (!(error instanceof PatchError)) throw error;
        return refused(
          new CommandError({ code: 'invalid_params', message: `the optimistic edit does not apply: ${error.message}`, display: 'inline', command: name, requestId }),
        );
      }
    }
    /** @type {Promise<unknown>} */
    const result = new Promise((resolve, reject) => {
      this.#pending.set(requestId, { resolve, reject, command: name, onProgress: options.onProgress });
      socket.send(text);
      if (options.optimistic) {
        this.#optimistic.set(requestId, options.optimistic);
        this.#refresh(false);
      }
      options.signal?.addEventListener('abort', () => this.cancel(requestId), { once: true });
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
    if (this.#options.level < 2) throw levelRequired('cancel', pending?.command, requestId);
    if (!pending || this.#socket?.readyState !== OPEN) return false;
    this.#send({ type: 'cancel', requestId });
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
    const subscription = { tokens: parsePointer(pointer), callback, last: /** @type {unknown} */ (undefined) };
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
    const listeners = this.#streamListeners.get(id) ?? new Set();
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
    const listeners = /** @type {Set<(event: ClientEvents[K]) => void>} */ (this.#listeners[type] ?? new Set());
    /** @type {Record<string, unknown>} */ (this.#listeners)[type] = listeners;
    listeners.add(handler);
    return () => void listeners.delete(handler);
  }

  /** Asks the server for a fresh snapshot; patches are dropped until it arrives. */
  resync() {
    this.#awaitingSnapshot = true;
    this.#send({ type: 'resync' });
  }

  /**
   * `GET {prefix}/auth/status`: `{configured, authorized, principal}`.
   *
   * @returns {Promise<{ configured: boolean, authorized: boolean, principal: unknown }>}
   */
  async authStatus() {
    return (await this.#http('GET', '/auth/status')).json();
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
    const response = await this.#http('POST', setup ? '/auth/setup' : '/auth/login', { passphrase, ...rest });
    const cookie = response.headers.get('set-cookie')?.match(/lab_link_session=[^;]*/)?.[0];
    if (cookie) this.#sessionCookie = cookie;
    const body = await response.json();
    if (this.#status === 'unauthorized' && !this.#closedByUser) this.#open();
    return body;
  }

  /**
   * Ends the session (`POST {prefix}/auth/logout`); the server closes the
   * socket with 4401, reported as an `auth` event.
   *
   * @returns {Promise<void>}
   */
  async logout() {
    await this.#http('POST', '/auth/logout');
    this.#sessionCookie = undefined;
  }

  /**
   * `GET {prefix}/schema`: the state's, commands' and streams' schemas and
   * the `schemaHash`.
   *
   * @returns {Promise<{ state: unknown, commands: Record<string, unknown>, streams: unknown[], schemaHash: string }>}
   */
  async schema() {
    return (await this.#http('GET', '/schema')).json();
  }

  // ---- the socket

  #open() {
    clearTimeout(this.#timer);
    const Socket = this.#options.WebSocket ?? /** @type {SocketConstructor | undefined} */ (/** @type {any} */ (globalThis).WebSocket);
    if (!Socket) throw new TypeError('no WebSocket: pass the `WebSocket` option (the `ws` package under Node)');
    const query = new URLSearchParams();
    if (this.#options.resume && this.#version >= 0) query.set('since', String(this.#version));
    if (this.#options.level >= 2) query.set('level', '2');
    const search = query.size > 0 ? `?${query}` : '';
    const url = `${this.#options.url.replace(/^http/, 'ws')}${this.#options.prefix}/ws${search}`;
    const headers = this.#headers();
    const socket = Object.keys(headers).length > 0 ? new Socket(url, [], { headers }) : new Socket(url);
    socket.binaryType = 'arraybuffer';
    this.#socket = socket;
    this.#awaitingSnapshot = true;
    let opened = false;
    this.#setStatus({ status: 'connecting' });
    socket.onopen = () => {
      opened = true;
      this.#attempt = 0;
      this.#setStatus({ status: 'open' });
    };
    socket.onmessage = (event) => {
      if (this.#socket === socket) this.#receive(event.data);
    };
    socket.onerror = () => {};
    socket.onclose = (event) => {
      if (this.#socket !== socket) return;
      this.#socket = undefined;
      this.#lost(`the connection closed (${event.code}${event.reason ? `: ${event.reason}` : ''})`);
      if (event.code === CLOSE_AUTH_EXPIRED) {
        this.#unauthorized('expired', event.reason || 'Authentication expired', event.code);
      } else if (!opened) {
        void this.#checkRefused(event);
      } else {
        this.#setStatus({ status: 'closed', code: event.code, reason: event.reason });
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
      refused = status.configured !== undefined && status.authorized === false;
    } catch {
      // No auth endpoints or no server: an ordinary failure to connect.
    }
    if (this.#closedByUser) return;
    if (refused) {
      this.#unauthorized('refused', 'the server refused the connection: log in, or pass a token', event.code);
    } else {
      this.#setStatus({ status: 'closed', code: event.code, reason: event.reason });
      this.#scheduleReconnect();
    }
  }

  /**
   * @param {'expired' | 'refused'} reason
   * @param {string} message
   * @param {number} code
   */
  #unauthorized(reason, message, code) {
    this.#setStatus({ status: 'unauthorized', code, reason: message });
    this.#emit('auth', { reason, code, message });
    this.#rejectWaiters(new Error(message));
  }

  #scheduleReconnect() {
    const reconnect = this.#options.reconnect;
    if (this.#closedByUser || reconnect === false) {
      this.#rejectWaiters(new Error('the connection closed'));
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
      pending.reject(new CommandError({ code: 'connection_lost', message: `${why} before the answer arrived: look at the state to see whether it ran`, command: pending.command, requestId }));
    }
    this.#pending.clear();
    if (this.#optimistic.size > 0) {
      this.#optimistic.clear();
      this.#refresh(false);
    }
    // The next start sends the list again; until then nothing is known to run.
    if (this.#running.length > 0) this.#setRunning({ running: Object.freeze([]), change: 'cleared' });
  }

  // ---- frames in

  /**
   * Handles one frame. Never throws.
   *
   * @param {unknown} data a string (text frame) or binary data
   */
  #receive(data) {
    if (typeof data !== 'string') {
      this.#receiveBinary(data);
      return;
    }
    let message;
    try {
      message = JSON.parse(data);
    } catch {
      this.#problem('malformed_frame', 'a text frame is not JSON', data);
      return;
    }
    if (!isObject(message) || typeof message.type !== 'string') {
      this.#problem('malformed_frame', 'a message is not an object with a string "type"', data);
      return;
    }
    try {
      this.#handle(message);
    } catch (error) {
      // Invariant: handlers check the fields they read; this is the net
      // under that, so that a frame never becomes an uncaught exception.
      this.#problem('malformed_frame', `a ${JSON.stringify(message.type)} message could not be handled: ${error}`, message);
    }
  }

  /** @param {Record<string, unknown>} message */
  #handle(message) {
    switch (message.type) {
      case 'snapshot':
        return this.#snapshot(message);
      case 'resume':
        return this.#resume(message);
      case 'patch':
        return this.#patch(message);
      case 'command_ack':
      case 'command_error':
        return this.#answer(message);
      case 'command_progress':
        return this.#commandProgress(message);
      case 'running_commands':
      case 'running_started':
      case 'running_progress':
      case 'running_finished':
        return this.#runningMessage(message);
      case 'stream_snapshot':
      case 'stream_append':
      case 'stream_replace':
      case 'stream_delta':
        return this.#streamMessage(message);
      case 'error':
        return message.code === 'unknown_request'
          ? this.#problem('unknown_request', `nothing to cancel: ${String(message.message)}`, message)
          : this.#problem('bad_message', `the server could not read a frame: ${String(message.message)}`, message);
      default:
        return this.#problem('unknown_message', `unknown message type ${JSON.stringify(message.type)}, ignored`, message);
    }
  }

  /** @param {Record<string, unknown>} message */
  #snapshot(message) {
    const { version } = message;
    if (!isVersion(version) || !('data' in message)) {
      this.#problem('malformed_frame', 'a snapshot without "data" or an integer "version"', message);
      this.resync();
      return;
    }
    if (typeof message.clientId === 'string') this.#clientId = message.clientId;
    this.#confirmed = message.data;
    this.#version = version;
    this.#awaitingSnapshot = false;
    this.#streams.clear();
    this.#checkSchema(message);
    this.#refresh(true);
    this.#emit('snapshot', { state: this.#view, version, clientId: this.#clientId, resumed: false });
    this.#ready();
  }

  /** @param {Record<string, unknown>} message */
  #resume(message) {
    if (message.version !== this.#version || this.#version < 0) {
      this.#problem('resume_mismatch', `resumed at version ${String(message.version)}, the replica is at ${this.#version}: resyncing`, message);
      this.resync();
      return;
    }
    this.#awaitingSnapshot = false;
    this.#checkSchema(message);
    this.#emit('snapshot', { state: this.#view, version: this.#version, clientId: this.#clientId, resumed: true });
    this.#ready();
  }

  /** @param {Record<string, unknown>} message */
  #patch(message) {
    if (this.#awaitingSnapshot) return;
    const { version, patch } = message;
    if (!isVersion(version) || !Array.isArray(patch)) {
      this.#problem('malformed_frame', 'a patch without an array "patch" or an integer "version": resyncing', message);
      this.resync();
      return;
    }
    if (version !== this.#version + 1) {
      this.#problem('version_gap', `patch version ${version} after version ${this.#version}: resyncing`, message);
      this.resync();
      return;
    }
    try {
      this.#confirmed = applyPatch(this.#confirmed, patch);
    } catch (error) {
      if (!(error instanceof PatchError)) throw error;
      this.#problem('patch_failed', `patch version ${version} does not apply (${error.message}): resyncing`, message);
      this.resync();
      return;
    }
    this.#version = version;
    /** @type {PatchMeta} */
    const meta = {};
    for (const key of /** @type {const} */ (['originClientId', 'requestId', 'command'])) {
      if (typeof message[key] === 'string') meta[key] = /** @type {string} */ (message[key]);
    }
    const own = meta.originClientId !== undefined && meta.originClientId === this.#clientId;
    // The command's own patch replaces its optimistic edit.
    if (own && meta.requestId !== undefined) this.#optimistic.delete(meta.requestId);
    this.#refresh(false);
    this.#emit('patch', { state: this.#view, version, patch, meta, own });
  }

  /** @param {Record<string, unknown>} message */
  #answer(message) {
    const requestId = String(message.requestId);
    const pending = this.#pending.get(requestId);
    if (!pending) return;
    this.#pending.delete(requestId);
    if (this.#optimistic.delete(requestId)) this.#refresh(false);
    if (message.type === 'command_ack') {
      pending.resolve(message.result);
      return;
    }
    const field = (/** @type {string} */ key) => (typeof message[key] === 'string' ? /** @type {string} */ (message[key]) : undefined);
    pending.reject(
      new CommandError({
        code: field('code') ?? 'command_failed',
        message: field('message') ?? 'the command failed',
        detail: field('detail'),
        severity: /** @type {CommandError['severity'] | undefined} */ (field('severity')),
        display: /** @type {CommandError['display'] | undefined} */ (field('display')),
        path: field('path'),
        recoverable: typeof message.recoverable === 'boolean' ? message.recoverable : undefined,
        command: field('command') ?? pending.command,
        requestId: message.requestId,
        version: isVersion(message.version) ? message.version : undefined,
      }),
    );
  }

  /** @param {Record<string, unknown>} message */
  #commandProgress(message) {
    const { requestId } = message;
    const progress = readProgress(message);
    if (typeof requestId !== 'string' || !progress) {
      this.#problem('malformed_frame', 'a command_progress without a string "requestId" or with a bad progress field', message);
      return;
    }
    /** @type {CommandProgress} */
    const event = { requestId, ...progress };
    const onProgress = this.#pending.get(requestId)?.onProgress;
    if (onProgress) this.#call(() => onProgress(event));
    this.#emit('progress', event);
  }

  /**
   * Keeps `#running` current. The list is off the versioned state, so a
   * message that cannot be read leaves nothing to check it against: it
   * resyncs, and the server sends the whole list again after the snapshot.
   *
   * @param {Record<string, unknown>} message
   */
  #runningMessage(message) {
    /** @type {RunningChange | undefined} */
    let change;
    const { id } = message;
    if (message.type === 'running_commands') {
      const commands = Array.isArray(message.commands) ? message.commands.map(readRunning) : [];
      if (Array.isArray(message.commands) && commands.every((entry) => entry !== undefined)) {
        change = { running: Object.freeze(/** @type {RunningCommand[]} */ (commands)), change: 'list' };
      }
    } else if (message.type === 'running_started') {
      const command = readRunning(message);
      if (command) change = { running: Object.freeze([...this.#running.filter((entry) => entry.id !== command.id), command]), change: 'started', command };
    } else if (isVersion(id)) {
      const entry = this.#running.find((running) => running.id === id);
      if (message.type === 'running_progress') {
        const progress = readProgress(message.progress);
        if (progress) {
          const command = entry && { ...entry, progress };
          change = { running: Object.freeze(this.#running.map((running) => (running === entry && command ? command : running))), change: 'progress', command };
        }
      } else if (typeof message.outcome === 'string') {
        change = { running: Object.freeze(this.#running.filter((running) => running !== entry)), change: 'finished', command: entry, outcome: message.outcome };
      }
    }
    if (!change) {
      this.#problem('malformed_frame', `a ${String(message.type)} message with a missing or mistyped field: resyncing`, message);
      this.resync();
      return;
    }
    // A delta for a run the list does not hold (one that never awaited) changes nothing.
    if (change.change !== 'list' && change.change !== 'started' && !change.command) return;
    this.#setRunning(change);
  }

  /** @param {RunningChange} change */
  #setRunning(change) {
    this.#running = change.running;
    this.#emit('running', change);
  }

  /** @param {Record<string, unknown>} message */
  #streamMessage(message) {
    const { id, seq } = message;
    const values = message.type === 'stream_delta' ? message.deltas : message.data;
    const wellFormed =
      typeof id === 'string' &&
      isVersion(seq) &&
      Array.isArray(values) &&
      (message.type !== 'stream_delta' ||
        values.every((pair) => Array.isArray(pair) && pair.length === 2 && isVersion(pair[0]) && Number.isInteger(pair[1])));
    if (!wellFormed) {
      this.#problem('malformed_frame', `a ${String(message.type)} message with a bad "id", "seq" or payload`, message);
      if (typeof id === 'string') this.#send({ type: 'stream_resync', id });
      return;
    }
    const outcome =
      message.type === 'stream_snapshot' ? this.#streams.snapshot(id, values, seq)
      : message.type === 'stream_append' ? this.#streams.append(id, values, seq)
      : message.type === 'stream_replace' ? this.#streams.replace(id, values, seq)
      : this.#streams.delta(id, /** @type {Array<[number, number]>} */ (values), seq);
    this.#streamOutcome(outcome, message);
  }

  /**
   * @param {import('./streams.js').StreamOutcome} outcome
   * @param {unknown} frame
   */
  #streamOutcome(outcome, frame) {
    if (outcome.kind === 'gap') {
      this.#problem('stream_gap', `stream ${JSON.stringify(outcome.stream.id)}: seq ${outcome.got} after ${outcome.expected - 1}: resyncing it`, frame);
      this.#send({ type: 'stream_resync', id: outcome.stream.id });
    } else if (outcome.kind === 'changed') {
      const { stream } = outcome;
      for (const listener of this.#streamListeners.get(stream.id) ?? []) this.#call(() => listener(stream));
      this.#emit('stream', stream);
    }
  }

  /** @param {unknown} data */
  #receiveBinary(data) {
    if (!(data instanceof ArrayBuffer) && !ArrayBuffer.isView(data)) {
      this.#problem('malformed_frame', 'a frame that is neither text nor binary data', data);
      return;
    }
    let frame;
    try {
      frame = decodeBinaryFrame(data);
    } catch (error) {
      if (!(error instanceof FrameError)) throw error;
      this.#problem('malformed_frame', error.message, data);
      return;
    }
    if (frame === undefined) {
      this.#problem('unknown_message', 'a binary frame with an unknown tag, ignored', data);
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
    if (expected === undefined) return;
    /** @param {unknown} actual */
    const compare = (actual) => {
      if (typeof actual === 'string' && actual !== expected) {
        this.#emit('problem', { kind: 'schema_mismatch', message: `the server's schema is ${actual}, this client was generated for ${expected}: regenerate it`, expected, actual });
      }
    };
    if (typeof message.schemaHash === 'string') {
      compare(message.schemaHash);
      return;
    }
    this.#http('GET', '/schema', undefined, { 'If-None-Match': `"${expected}"` })
      .then(async (response) => {
        if (response.status === 200) compare((await response.json()).schemaHash);
      })
      .catch(() => {
        // No schema endpoint: nothing to compare with.
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
        // An edit the server's changes made inapplicable is dropped from the view.
        if (!(error instanceof PatchError)) throw error;
      }
    }
    this.#view = view;
    if (previous === view) return;
    for (const subscription of this.#subscriptions) {
      const value = getPointer(view, subscription.tokens);
      const unchanged = snapshot ? previous !== undefined && jsonEqual(value, subscription.last) : Object.is(value, subscription.last);
      subscription.last = value;
      if (!unchanged) this.#call(() => subscription.callback(value, this.#version));
    }
  }

  #ready() {
    if (this.#options.level >= 2 && this.#options.hello) {
      this.#send({ type: 'hello', level: 2, client: { kind: 'browser', ...this.#options.hello } });
      this.#options.hello = undefined;
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
    /** @type {Record<string, string>} */
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
    /** @type {Record<string, string>} */
    const headers = { ...this.#headers(), ...extraHeaders };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const response = await fetchImpl(`${this.#options.url}${this.#options.prefix}${path}`, {
      method,
      headers,
      credentials: 'same-origin',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (response.status >= 400) {
      const answer = await response.json().catch(() => ({}));
      // Auth errors are {"error": code, "message"?}; GET /state's 401 is {"detail"}.
      const code = answer.error ?? answer.code ?? 'http_error';
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
    this.#emit('problem', { kind, message, frame });
  }

  /** @param {ClientEvents['status']} status */
  #setStatus(status) {
    this.#status = status.status;
    this.#emit('status', status);
  }

  /**
   * @template {keyof ClientEvents} K
   * @param {K} type
   * @param {ClientEvents[K]} event
   */
  #emit(type, event) {
    for (const handler of this.#listeners[type] ?? []) {
      if (type === 'problem') {
        try {
          handler(event);
        } catch {
          // A failing problem listener cannot be reported to itself.
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
      this.#problem('listener_failed', `a callback threw: ${error}`, error);
    }
  }
}

/** An HTTP request of the client (login, schema, …) answered with an error status. */
export class AuthError extends Error {
  /**
   * @param {number} status the HTTP status
   * @param {string} code the server's error code (`invalid_credentials`, …)
   * @param {string} message
   */
  constructor(status, code, message) {
    super(message);
    this.name = 'AuthError';
    this.status = status;
    this.code = code;
  }
}

/**
 * The error of a level-2 feature asked of a level-1 client.
 *
 * @param {string} what
 * @param {string | undefined} command
 * @param {string} requestId
 */
function levelRequired(what, command, requestId) {
  return new CommandError({
    code: 'level_2_required',
    message: `${what} need level 2: create the client with \`level: 2\``,
    recoverable: false,
    command,
    requestId,
  });
}

/** The optional fields of a progress report, by the type they must have. */
const PROGRESS_FIELDS = /** @type {const} */ ([['message', 'string'], ['current', 'number'], ['target', 'number'], ['unit', 'string'], ['eta_s', 'number']]);

/**
 * The progress fields of `value`, or `undefined` when `fraction` is not
 * a number in [0, 1] or another field has the wrong type.
 *
 * @param {unknown} value
 * @returns {Progress | undefined}
 */
function readProgress(value) {
  if (!isObject(value)) return undefined;
  const { fraction } = value;
  if (typeof fraction !== 'number' || !(fraction >= 0 && fraction <= 1)) return undefined;
  /** @type {Record<string, unknown>} */
  const progress = { fraction };
  for (const [key, type] of PROGRESS_FIELDS) {
    if (value[key] === undefined) continue;
    if (typeof value[key] !== type || (type === 'number' && !Number.isFinite(value[key]))) return undefined;
    progress[key] = value[key];
  }
  return /** @type {Progress} */ (progress);
}

/**
 * An entry of the running commands, or `undefined` when a field is
 * missing or mistyped.
 *
 * @param {unknown} value
 * @returns {RunningCommand | undefined}
 */
function readRunning(value) {
  if (!isObject(value)) return undefined;
  const { id, command, clientId, startedAt, requestId, client, progress } = value;
  if (!isVersion(id) || typeof command !== 'string' || typeof clientId !== 'string' || !isVersion(startedAt)) return undefined;
  /** @type {RunningCommand} */
  const entry = { id, command, clientId, startedAt };
  if (requestId !== undefined) entry.requestId = requestId;
  if (client !== undefined) {
    if (!isObject(client) || [client.kind, client.name].some((field) => field !== undefined && typeof field !== 'string')) return undefined;
    entry.client = /** @type {RunningCommand['client']} */ (client);
  }
  if (progress !== undefined) {
    const read = readProgress(progress);
    if (!read) return undefined;
    entry.progress = read;
  }
  return entry;
}

/**
 * @param {unknown} value
 * @returns {value is number}
 */
function isVersion(value) {
  return Number.isInteger(value) && /** @type {number} */ (value) >= 0;
}
