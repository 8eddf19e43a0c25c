// A WebSocket stand-in the tests drive frame by frame, and a client on it.

import { LabLinkClient } from '../src/index.js';

export class FakeSocket {
  /** @type {FakeSocket[]} */
  static made = [];

  /**
   * @param {string} url
   * @param {string[]} [protocols]
   * @param {{ headers: Record<string, string> }} [options]
   */
  constructor(url, protocols, options) {
    this.url = url;
    this.headers = options?.headers ?? {};
    this.readyState = 0;
    this.binaryType = 'blob';
    /** @type {string[]} */
    this.sent = [];
    /** @type {((event: unknown) => void) | null} */
    this.onopen = null;
    /** @type {((event: { data: unknown }) => void) | null} */
    this.onmessage = null;
    /** @type {((event: { code: number, reason: string }) => void) | null} */
    this.onclose = null;
    /** @type {((event: unknown) => void) | null} */
    this.onerror = null;
    FakeSocket.made.push(this);
  }

  /** The newest socket. */
  static get last() {
    const socket = FakeSocket.made.at(-1);
    if (!socket) throw new Error('no socket was made');
    return socket;
  }

  /** @param {string} data */
  send(data) {
    this.sent.push(data);
  }

  /** The parsed frames the client sent. */
  get messages() {
    return this.sent.map((text) => JSON.parse(text));
  }

  close() {
    this.readyState = 3;
  }

  open() {
    this.readyState = 1;
    this.onopen?.({});
  }

  /** @param {unknown} message an object (sent as JSON) or a string or bytes as they are */
  receive(message) {
    const data = typeof message === 'string' || message instanceof ArrayBuffer ? message : JSON.stringify(message);
    this.onmessage?.({ data });
  }

  /** @param {number} code @param {string} [reason] */
  serverClose(code, reason = '') {
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }
}

export const DOC = { enabled: false, channels: [{ bias: 0 }, { bias: 0 }], labels: {} };

/**
 * A client on a fresh fake socket that received `snapshot` at version 5.
 *
 * @param {import('../src/client.js').ClientOptions} [options]
 */
export async function connected(options = {}) {
  const client = new LabLinkClient({
    url: 'http://lab:8000',
    WebSocket: FakeSocket,
    reconnect: { initialDelayMs: 1, maxDelayMs: 1, jitter: 0 },
    fetch: async () => new Response('{}', { status: 404 }),
    ...options,
  });
  /** @type {import('../src/client.js').Problem[]} */
  const problems = [];
  client.on('problem', (problem) => problems.push(problem));
  const ready = client.connect();
  const socket = FakeSocket.last;
  socket.open();
  socket.receive({ type: 'snapshot', data: DOC, version: 5, clientId: 'me' });
  await ready;
  return { client, socket, problems };
}
