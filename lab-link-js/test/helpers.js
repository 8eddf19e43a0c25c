// What the interop tests share: clients whose sockets are recorded and
// which are closed after each test, waiting on a condition, and the
// checks run against both our demo and the Python reference's.

import assert from 'node:assert/strict';
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

/**
 * Drops the socket of a client of `url` while another client changes the
 * state, waits for the first to reconnect and catch up, resets the state
 * and checks that both agree. Returns whether each snapshot after the
 * drop was a resume, and whether the client made a new socket.
 *
 * @param {string} url
 * @returns {Promise<{ resumed: boolean[], newSocket: boolean }>}
 */
export async function dropAndReconnect(url) {
  const lab = await connect(url);
  /** @type {boolean[]} */
  const resumed = [];
  lab.on('snapshot', (event) => resumed.push(event.resumed));
  const socket = /** @type {WebSocket} */ (sockets.at(-1));
  socket.terminate();
  const other = await connect(url);
  await other.command('set_enabled', { enabled: true });
  await until(() => resumed.length === 1 && /** @type {any} */ (lab.state).enabled === true, 'the replica after the reconnect');
  const newSocket = sockets.at(-1) !== socket;
  await other.command('reset');
  await until(() => lab.version === other.version, 'the live patches after the reconnect');
  assert.deepEqual(lab.state, other.state);
  return { resumed, newSocket };
}

/**
 * Checks the demo's streams as two clients hold them after an
 * acquisition: a 64-bin histogram with counts in it, and the same count
 * rates once both hold the same `seq`.
 *
 * @param {LabLinkClient} one
 * @param {LabLinkClient} two
 */
export async function assertStreamsAgree(one, two) {
  const histogram = Array.from(/** @type {ArrayLike<number>} */ (one.stream('histogram')?.data));
  assert.equal(histogram.length, 64);
  assert.ok(histogram.reduce((a, b) => a + b, 0) > 0);
  await until(() => one.stream('counts')?.seq === two.stream('counts')?.seq, 'the counts to agree');
  assert.deepEqual(one.stream('counts')?.data, two.stream('counts')?.data);
}
