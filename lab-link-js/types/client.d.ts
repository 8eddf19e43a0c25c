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
    /** @param {ClientOptions} [options] */
    constructor(options?: ClientOptions);
    /**
     * Every command as a method: `client.commands.set_channel({ channel: 0, value: 1 })`
     * is `client.command('set_channel', { channel: 0, value: 1 })`.
     * Generated declarations type each one.
     *
     * @type {Record<string, (params?: object, options?: CommandOptions) => Promise<unknown>>}
     */
    commands: Record<string, (params?: object, options?: CommandOptions) => Promise<unknown>>;
    /**
     * The replica of the server's document, with the optimistic edits of
     * commands still waiting for their answer; `undefined` before the first
     * snapshot.
     */
    get state(): unknown;
    /** The replica's version; -1 before the first snapshot. */
    get version(): number;
    /** This connection's id (level 2 `clientId`), which its commands' patches carry. */
    get clientId(): string | undefined;
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
    get running(): readonly RunningCommand[];
    /** `connecting`, `open`, `closed`, or `unauthorized` after a refused or ended credential. */
    get status(): "connecting" | "open" | "closed" | "unauthorized";
    /**
     * Opens the socket (and keeps it open, reconnecting, until `close`).
     * Resolves once the replica holds the server's state.
     *
     * @returns {Promise<void>}
     * @throws {Error} (rejects) when the credential is refused or `close` is called first
     */
    connect(): Promise<void>;
    /** Closes the socket for good; pending commands reject with `connection_lost`. */
    close(): void;
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
    command(name: string, params?: object, options?: CommandOptions): Promise<unknown>;
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
    startCommand(name: string, params?: object, options?: CommandOptions): CommandHandle;
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
    cancel(requestId: string): boolean;
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
    subscribe(pointer: string, callback: PointerCallback): () => void;
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
    subscribeStream(id: string, callback: (stream: StreamState) => void): () => void;
    /**
     * The stream `id` as held, or `undefined` before its first message.
     *
     * @param {string} id
     * @returns {StreamState | undefined}
     */
    stream(id: string): StreamState | undefined;
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
    on<K extends keyof ClientEvents>(type: K, handler: (event: ClientEvents[K]) => void): () => void;
    /** Asks the server for a fresh snapshot; patches are dropped until it arrives. */
    resync(): void;
    /**
     * `GET {prefix}/auth/status`: `{configured, authorized, principal}`.
     *
     * @returns {Promise<{ configured: boolean, authorized: boolean, principal: unknown }>}
     */
    authStatus(): Promise<{
        configured: boolean;
        authorized: boolean;
        principal: unknown;
    }>;
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
    login(passphrase: string, options?: {
        remember?: boolean;
        deviceName?: string;
        setup?: boolean;
    }): Promise<unknown>;
    /**
     * Ends the session (`POST {prefix}/auth/logout`); the server closes the
     * socket with 4401, reported as an `auth` event.
     *
     * @returns {Promise<void>}
     */
    logout(): Promise<void>;
    /**
     * `GET {prefix}/schema`: the state's, commands' and streams' schemas and
     * the `schemaHash`.
     *
     * @returns {Promise<{ state: unknown, commands: Record<string, unknown>, streams: unknown[], schemaHash: string }>}
     */
    schema(): Promise<{
        state: unknown;
        commands: Record<string, unknown>;
        streams: unknown[];
        schemaHash: string;
    }>;
    #private;
}
/** An HTTP request of the client (login, schema, …) answered with an error status. */
export class AuthError extends Error {
    /**
     * @param {number} status the HTTP status
     * @param {string} code the server's error code (`invalid_credentials`, …)
     * @param {string} message
     */
    constructor(status: number, code: string, message: string);
    status: number;
    code: string;
}
export type StreamState = import("./streams.js").StreamState;
export type PatchOperation = import("./patch.js").PatchOperation;
/**
 * How to reconnect after the socket drops: the delay starts at
 * `initialDelayMs`, grows by `factor` per failed attempt up to
 * `maxDelayMs`, and each delay is scaled by a random factor in
 * [1 - jitter, 1].
 */
export type ReconnectOptions = {
    /**
     * 250 by default
     */
    initialDelayMs?: number | undefined;
    /**
     * 10000 by default
     */
    maxDelayMs?: number | undefined;
    /**
     * 2 by default
     */
    factor?: number | undefined;
    /**
     * 0.25 by default
     */
    jitter?: number | undefined;
};
/**
 * What a WebSocket constructor must provide: the browser's `WebSocket`,
 * or the `ws` package's under Node.
 */
export type SocketConstructor = new (url: string, protocols?: string[], options?: {
    headers: Record<string, string>;
}) => SocketLike;
export type SocketLike = {
    readyState: number;
    binaryType: string;
    send: (data: string) => void;
    close: (code?: number, reason?: string) => void;
    onopen: ((event: unknown) => void) | null;
    onmessage: ((event: {
        data: unknown;
    }) => void) | null;
    onclose: ((event: {
        code: number;
        reason: string;
    }) => void) | null;
    onerror: ((event: unknown) => void) | null;
};
export type ClientOptions = {
    /**
     * the server's HTTP base, such as
     * `http://127.0.0.1:8000`; in a browser, the page's origin by default
     */
    url?: string | undefined;
    /**
     * the sync prefix, `/sync` by default
     */
    prefix?: string | undefined;
    /**
     * 2 opts in to the level-2 messages that
     * level-1 clients never see (`?level=2`: progress, presence, …); 1 by default
     */
    level?: 1 | 2 | undefined;
    /**
     * at level 2, describe
     * this client in a `hello` frame after the first snapshot
     */
    hello?: {
        kind?: string;
        name?: string;
    } | undefined;
    /**
     * the global `WebSocket` by default
     */
    WebSocket?: SocketConstructor | undefined;
    /**
     * the global `fetch` by default
     */
    fetch?: typeof fetch | undefined;
    /**
     * an API token (`ll_…`), sent as
     * `Authorization: Bearer` (not by browsers' WebSocket: use the session
     * cookie there)
     */
    token?: string | undefined;
    /**
     * `false` never reconnects
     */
    reconnect?: false | ReconnectOptions | undefined;
    /**
     * reconnect with `?since=<version>`; true by default
     */
    resume?: boolean | undefined;
    /**
     * the most values kept per append
     * stream, 10000 by default
     */
    streamCapacity?: number | undefined;
    /**
     * the `schemaHash` the caller was
     * built against (generated code passes it): a server with another one
     * is reported as a `schema_mismatch` problem
     */
    expectedSchemaHash?: string | undefined;
};
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
 */
export type Problem = {
    kind: "malformed_frame" | "unknown_message" | "bad_message" | "unknown_request" | "version_gap" | "patch_failed" | "resume_mismatch" | "stream_gap" | "schema_mismatch" | "listener_failed";
    message: string;
    /**
     * the frame (or the parsed message) concerned
     */
    frame?: unknown;
    /**
     * for `schema_mismatch`
     */
    expected?: string | undefined;
    /**
     * for `schema_mismatch`
     */
    actual?: string | undefined;
};
export type PatchMeta = {
    originClientId?: string | undefined;
    requestId?: string | undefined;
    command?: string | undefined;
};
/**
 * How far a long-running command is, as it reported it: `fraction` in
 * [0, 1], and the other fields when it gave them (`eta_s`: the estimated
 * time remaining, in seconds).
 */
export type Progress = {
    fraction: number;
    message?: string | undefined;
    current?: number | undefined;
    target?: number | undefined;
    unit?: string | undefined;
    eta_s?: number | undefined;
};
/**
 * A `command_progress`: the progress of one of this connection's commands.
 */
export type CommandProgress = Progress & {
    requestId: string;
};
/**
 * A command running on the server, started by any client (level 2).
 */
export type RunningCommand = {
    /**
     * the server's id of this run
     */
    id: number;
    /**
     * its name
     */
    command: string;
    /**
     * the connection that started it (this one's is `client.clientId`)
     */
    clientId: string;
    /**
     * its `requestId` as that client sent it
     */
    requestId?: unknown;
    /**
     * what that client said of itself in its `hello`
     */
    client?: {
        kind?: string;
        name?: string;
    } | undefined;
    /**
     * milliseconds since the Unix epoch
     */
    startedAt: number;
    /**
     * its latest progress
     */
    progress?: Progress | undefined;
};
/**
 * A change of `client.running`: the whole list (after each snapshot or
 * resume), a command that started, one's progress, or one that finished
 * with its `outcome` (`ok` or its error's code).
 */
export type RunningChange = {
    /**
     * the list after the change
     */
    running: readonly RunningCommand[];
    /**
     *   `cleared` when the connection dropped
     */
    change: "list" | "started" | "progress" | "finished" | "cleared";
    /**
     * the entry concerned (before its removal for `finished`)
     */
    command?: RunningCommand | undefined;
    /**
     * for `finished`
     */
    outcome?: string | undefined;
};
/**
 * The events of `client.on(type, handler)`.
 */
export type ClientEvents = {
    /**
     *   the connection's status changed
     */
    status: {
        status: "connecting" | "open" | "closed" | "unauthorized";
        code?: number;
        reason?: string;
    };
    /**
     *   the replica was reset (or, `resumed`, kept across a reconnect)
     */
    snapshot: {
        state: unknown;
        version: number;
        clientId: string | undefined;
        resumed: boolean;
    };
    /**
     *   a patch was applied; `own` when this connection's command caused it
     */
    patch: {
        state: unknown;
        version: number;
        patch: PatchOperation[];
        meta: PatchMeta;
        own: boolean;
    };
    /**
     * a stream changed
     */
    stream: StreamState;
    /**
     *   the credential ended (close 4401) or the handshake was refused
     */
    auth: {
        reason: "expired" | "refused";
        code?: number;
        message: string;
    };
    problem: Problem;
    /**
     * level 2: one of this connection's commands' progress
     */
    progress: CommandProgress;
    /**
     * level 2: the running commands changed
     */
    running: RunningChange;
};
export type CommandOptions = {
    /**
     * level 2: aborting it cancels the command
     * (`cancel`); the promise then rejects with the server's `cancelled`
     */
    signal?: AbortSignal | undefined;
    /**
     * edits shown in `state` at once,
     * until the command's own patch, its ack or its error arrives (then the
     * server's document is shown again, with or without the change)
     */
    optimistic?: import("./patch.js").PatchOperation[] | undefined;
    /**
     * level 2:
     * called with each progress report, in order, before the promise settles
     */
    onProgress?: ((progress: CommandProgress) => void) | undefined;
};
/**
 * A command on its way: its `requestId`, the promise of its `result`, and
 * `cancel()` (level 2), which returns whether a `cancel` was sent (false
 * once the command is answered).
 */
export type CommandHandle = {
    requestId: string;
    result: Promise<unknown>;
    cancel: () => boolean;
};
export type PointerCallback = (value: unknown, version: number) => void;
