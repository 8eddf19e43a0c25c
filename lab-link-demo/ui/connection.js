// The page's connection: a LabLinkClient from the browser runtime
// lab-link-js (served by the demo at /lab-link.js) at level 2, and what
// the page shows of it: the connection pill, with the reconnect
// countdown, and the hooks the browser tests read (resyncs, frames, a
// frame handed in as if the server had sent it).

import { decodeBinaryFrame, LabLinkClient } from './lab-link.js';

/** The reconnect backoff: 250 ms doubling up to 5 s, without jitter, so the countdown is exact. */
const RECONNECT = { initialDelayMs: 250, maxDelayMs: 5000, factor: 2, jitter: 0 };
/** The most values the page keeps of an append stream (the count-rate plot). */
const APPEND_CAPACITY = 1000;
/** The problems after which the client resyncs its replica. */
const RESYNC_PROBLEMS = new Set(['version_gap', 'patch_failed', 'resume_mismatch']);

/**
 * Where the sync endpoints are: `?sync=URL` in the page's address (a
 * server on another origin), else this origin and the prefix the demo
 * wrote into `<meta name="lab-link-prefix">`.
 *
 * @returns {{ url: string, prefix: string }}
 */
export function syncTarget() {
  const query = new URLSearchParams(location.search).get('sync');
  if (query) {
    const target = new URL(query.replace(/\/+$/, '').replace(/^ws:/i, 'http:').replace(/^wss:/i, 'https:'));
    return { url: target.origin, prefix: target.pathname.replace(/\/+$/, '') };
  }
  const meta = document.querySelector('meta[name="lab-link-prefix"]');
  let prefix = meta ? meta.getAttribute('content') ?? '' : '';
  if (!prefix || prefix === '{{' + 'PREFIX}}') prefix = '/sync';
  if (prefix.charAt(0) !== '/') prefix = '/' + prefix;
  return { url: location.origin, prefix: prefix.replace(/\/+$/, '') };
}

/** The HTTP base of the sync endpoints, such as `http://host:8000/sync`. */
export function httpBase() {
  const { url, prefix } = syncTarget();
  return url + prefix;
}

/**
 * The page's connection.
 *
 * `handlers`: `snapshot()` and `patch(meta, own)` when the replica
 * changed, `stream(id)`, `running(list)`, `auth(event)` when the
 * credential was refused or ended, `serverError(error)` for a server's
 * `error` message, `dropped()` when the socket closed (the client then
 * rejects the pending commands).
 */
export class Connection {
  /**
   * @param {{ snapshot: () => void, patch: (meta: { requestId?: string }, own: boolean) => void, stream: (id: string) => void,
   *           running: (list: readonly object[]) => void, auth: (event: { reason: string }) => void,
   *           serverError: (error: object) => void, dropped: () => void }} handlers
   */
  constructor(handlers) {
    this.handlers = handlers;
    /** How many times the replica was given up for a fresh snapshot. */
    this.resyncs = 0;
    /** Replace messages and binary frames per stream since the page loaded. */
    this.frames = new Map();
    this.socket = null;
    this.attempt = 0;
    this.countdown = null;
    /** Closed on purpose (the login screen): no countdown. */
    this.stopped = true;
    const connection = this;
    // The client's socket, kept so that a test can hand the page a frame
    // (`receive`) and so that replace frames are counted.
    class PageSocket extends WebSocket {
      constructor(url, protocols) {
        super(url, protocols);
        connection.socket = this;
        this.addEventListener('message', (event) => connection.countFrame(event.data));
      }
    }
    const { url, prefix } = syncTarget();
    this.client = new LabLinkClient({
      url,
      prefix,
      level: 2,
      hello: { kind: 'browser', name: 'lab-link demo page' },
      WebSocket: PageSocket,
      reconnect: RECONNECT,
      streamCapacity: APPEND_CAPACITY,
    });
    this.bind();
  }

  /** Connects (again), unless already connected or connecting. */
  start() {
    this.stopped = false;
    this.client.connect().catch(() => {
      // Refused or closed: the auth event or the pill says so.
    });
  }

  /** Closes the socket and stops reconnecting (the login screen shows). */
  stop() {
    this.stopped = true;
    this.stopCountdown();
    this.client.close();
  }

  /** Connected and holding the server's state. */
  get connected() {
    return document.body.dataset.connection === 'open';
  }

  /**
   * Hands `data` (text, or an ArrayBuffer for a binary frame) to the
   * client as if the server had sent it.
   *
   * @param {string | ArrayBuffer} data
   */
  receive(data) {
    const socket = this.socket;
    if (socket && socket.onmessage) {
      this.countFrame(data);
      socket.onmessage(new MessageEvent('message', { data }));
    }
  }

  /**
   * @param {string} state the value of `body[data-connection]`
   * @param {string} text
   */
  setPill(state, text) {
    document.body.dataset.connection = state;
    const pill = document.querySelector('#conn');
    pill.textContent = text;
    pill.dataset.state = state;
  }

  bind() {
    const client = this.client;
    client.on('status', ({ status }) => {
      if (status === 'connecting') {
        this.stopCountdown();
        this.setPill('connecting', 'connecting…');
      } else if (status === 'open') {
        this.attempt = 0;
        this.setPill('connecting', 'syncing…');
      } else if (status === 'closed') {
        this.handlers.dropped();
        if (!this.stopped) this.startCountdown();
      } else {
        this.stopCountdown();
      }
    });
    client.on('snapshot', () => {
      this.attempt = 0;
      this.stopCountdown();
      this.setPill('open', 'connected');
      this.handlers.snapshot();
    });
    client.on('patch', ({ meta, own }) => this.handlers.patch(meta, own));
    client.on('stream', (stream) => this.handlers.stream(stream.id));
    client.on('running', ({ running }) => this.handlers.running(running));
    client.on('auth', (event) => {
      this.handlers.dropped();
      this.handlers.auth(event);
    });
    client.on('problem', (problem) => {
      if (RESYNC_PROBLEMS.has(problem.kind)) {
        this.resyncs += 1;
        console.warn('lab-link: resync (' + problem.message + ')');
      } else if (problem.kind === 'bad_message' || problem.kind === 'unknown_request') {
        console.error('lab-link: server error', problem.frame);
        const frame = /** @type {any} */ (problem.frame) || {};
        this.handlers.serverError({ code: frame.code || 'error', message: frame.message || 'Server error', severity: 'warning' });
      } else {
        console.debug('lab-link: ' + problem.kind + ': ' + problem.message);
      }
    });
  }

  /** Shows `disconnected · reconnecting in Ns` until the client's next attempt. */
  startCountdown() {
    this.stopCountdown();
    const delay = Math.min(RECONNECT.maxDelayMs, RECONNECT.initialDelayMs * RECONNECT.factor ** this.attempt);
    this.attempt += 1;
    const at = Date.now() + delay;
    const tick = () => {
      const seconds = Math.max(0, Math.ceil((at - Date.now()) / 1000));
      this.setPill('closed', 'disconnected · reconnecting in ' + seconds + 's');
    };
    tick();
    this.countdown = setInterval(tick, 250);
  }

  stopCountdown() {
    clearInterval(this.countdown);
    this.countdown = null;
  }

  /** @param {unknown} data */
  countFrame(data) {
    let id = null;
    if (data instanceof ArrayBuffer) {
      try {
        id = decodeBinaryFrame(data)?.id ?? null;
      } catch {
        // The client reports it.
      }
    } else if (typeof data === 'string' && data.includes('"stream_replace"')) {
      try {
        const message = JSON.parse(data);
        if (message && message.type === 'stream_replace') id = message.id;
      } catch {
        // The client reports it.
      }
    }
    if (typeof id === 'string') this.frames.set(id, (this.frames.get(id) ?? 0) + 1);
  }
}
