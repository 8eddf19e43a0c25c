// A WebSocket stand-in the tests drive frame by frame.

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
