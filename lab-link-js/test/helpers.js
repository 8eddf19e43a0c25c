// What the interop tests share: clients whose sockets are recorded and
// which are closed after each test, and waiting on a condition.

import WebSocket from 'ws';

import { LabLinkClient } from '../src/index.js';

/** Every socket the clients made, so that a test can drop one. */
/** @type {WebSocket[]} */
export const sockets = [];
export class RecordingSocket extends WebSocket {
  /** @param {ConstructorParameters<typeof WebSocket>} args */
  constructor(...args) {
    super(...args);
    sockets.push(this);
  }
}

/** Every client made, closed after each test whatever its outcome. */
/** @type {LabLinkClient[]} */
const clients = [];
/** Closes every client made so far: run after each test, whatever its outcome. */
export function closeClients() {
  for (const made of clients.splice(0)) made.close();
}

/**
 * @param {string} url
 * @param {import('../src/client.js').ClientOptions} [options]
 */
export function client(url, options = {}) {
  const made = new LabLinkClient({ url, WebSocket: /** @type {any} */ (RecordingSocket), reconnect: { initialDelayMs: 20, maxDelayMs: 200 }, ...options });
  clients.push(made);
  return made;
}

/**
 * A client that holds the server's state.
 *
 * @param {string} url
 * @param {import('../src/client.js').ClientOptions} [options]
 */
export async function connect(url, options) {
  const made = client(url, options);
  await made.connect();
  return made;
}

/**
 * The kinds of the problems `lab` reports from now on.
 *
 * @param {LabLinkClient} lab
 */
export function problemKinds(lab) {
  /** @type {string[]} */
  const kinds = [];
  lab.on('problem', (problem) => kinds.push(problem.kind));
  return kinds;
}

/**
 * Resolves when `predicate()` holds, polling; fails after `ms`.
 *
 * @param {() => boolean} predicate
 * @param {string} what
 * @param {number} [ms]
 */
export async function until(predicate, what, ms = 5000) {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/**
 * Channel `channel`'s bias in `lab`'s replica.
 *
 * @param {LabLinkClient} lab
 * @param {number} channel
 * @returns {number}
 */
export function bias(lab, channel) {
  return /** @type {any} */ (lab.state).channels[channel].bias_voltage;
}

/** @param {string} url */
export async function serverState(url) {
  return (await fetch(`${url}/sync/state`)).json();
}
