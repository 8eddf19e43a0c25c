// The client against our real server: the demo instrument, started here.

import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import WebSocket from 'ws';

import { CommandError } from '../src/index.js';

import { startDemo } from './demo.js';
import { assertStreamsAgree, bias, client, closeClients, connect, dropAndReconnect, problemKinds, serverState, sockets, until } from './helpers.js';

afterEach(closeClients);

const EXPECTED_SCHEMA = JSON.parse(readFileSync(new URL('../../lab-link-demo/tests/expected/schema.json', import.meta.url), 'utf8'));

describe('against the demo', { timeout: 60_000 }, () => {
  /** @type {{ url: string, stop: () => Promise<void> }} */
  let demo;
  before(async () => {
    demo = await startDemo();
  });
  after(async () => {
    await demo?.stop();
  });

  test('snapshot, commands and their errors', async () => {
    const lab = client(demo.url, { expectedSchemaHash: EXPECTED_SCHEMA.schemaHash });
    const problems = problemKinds(lab);
    await lab.connect();
    assert.deepEqual(lab.state, await serverState(demo.url));
    /** @type {unknown[]} */
    const seen = [];
    lab.subscribe('/channels/1/bias_voltage', (value) => seen.push(value));

    assert.deepEqual(await lab.commands.set_channel({ channel: 1, value: 1.2346 }), { channel: 1, value: 1.235 });
    // The ack comes after the command's patches: the replica has them.
    assert.equal(/** @type {any} */ (lab.state).channels[1].bias_voltage, 1.235);
    await lab.command('set_label', { key: 'a/b~c', value: 'x' });
    assert.equal(/** @type {any} */ (lab.state).labels['a/b~c'], 'x');

    await assert.rejects(lab.command('set_channel', { channel: 9, value: 1 }), (error) => {
      assert.ok(error instanceof CommandError);
      assert.deepEqual([error.code, error.display, error.path, error.severity, error.recoverable], ['invalid_channel', 'inline', '/channels/9', 'error', true]);
      return true;
    });
    await assert.rejects(lab.commands.set_channel({ channel: 0, value: 12 }), (error) =>
      error instanceof CommandError && error.code === 'out_of_range' && error.display === 'inline' && error.path === '/channels/0/bias_voltage');
    await assert.rejects(lab.command('simulate_timeout'), (error) =>
      error instanceof CommandError && error.code === 'hardware_timeout' && error.display === 'banner' && error.detail === 'UDP timeout after 5.0 s');
    await assert.rejects(lab.command('set_channel', { channel: 'x' }), (error) => error instanceof CommandError && error.code === 'invalid_params');
    await assert.rejects(lab.command('nope'), (error) => error instanceof CommandError && error.code === 'unknown_command');

    await lab.command('reset');
    assert.deepEqual(lab.state, await serverState(demo.url));
    assert.deepEqual(seen, [0, 1.235, 0]);
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.deepEqual(problems, []);
  });

  test('two clients agree while the acquisition runs, streams included', async () => {
    const [one, two] = await Promise.all([connect(demo.url), connect(demo.url)]);
    await one.command('start_acquisition', { rate_hz: 200 });
    await until(() => (one.stream('trace')?.data.length ?? 0) === 256 && (two.stream('counts')?.data.length ?? 0) > 20, 'stream updates');
    await one.command('stop_acquisition');
    // A command after the stop orders every tick before its ack.
    await two.command('set_enabled', { enabled: true });
    await one.command('set_enabled', { enabled: true });
    assert.equal(one.version, two.version);
    assert.deepEqual(one.state, two.state);
    assert.deepEqual(one.state, await serverState(demo.url));
    assert.ok(one.stream('trace')?.data instanceof Float32Array);
    await assertStreamsAgree(one, two);
    await one.command('reset');
  });

  test('a dropped socket reconnects and resumes', async () => {
    assert.deepEqual(await dropAndReconnect(demo.url), { resumed: [true], newSocket: true });
  });

  test('a frame the server cannot read is a bad_message problem, and the client goes on', async () => {
    const lab = await connect(demo.url);
    const problems = problemKinds(lab);
    /** @type {WebSocket} */ (sockets.at(-1)).send('{');
    await until(() => problems.length === 1, 'the bad_message answer');
    assert.deepEqual(problems, ['bad_message']);
    assert.deepEqual(await lab.command('set_all', { value: 0 }), { count: 4 });
  });

  test('the demo serves the bundled runtime at /lab-link.js', async () => {
    const response = await fetch(`${demo.url}/lab-link.js`);
    assert.equal(response.headers.get('content-type'), 'text/javascript; charset=utf-8');
    assert.equal(await response.text(), readFileSync(new URL('../dist/lab-link.js', import.meta.url), 'utf8'));
  });

  test('a stale generated client is told by the schema hash', async () => {
    const lab = client(demo.url, { expectedSchemaHash: 'sha256:0000' });
    /** @type {import('../src/client.js').Problem[]} */
    const problems = [];
    lab.on('problem', (problem) => problems.push(problem));
    await lab.connect();
    await until(() => problems.length > 0, 'the schema check');
    assert.deepEqual(problems.map((p) => [p.kind, p.actual]), [['schema_mismatch', EXPECTED_SCHEMA.schemaHash]]);
  });

  // Long-running commands: the demo's ramp_channel.

  test('a ramp reports its progress in order, all before its ack', async () => {
    const lab = await connect(demo.url, { level: 2 });
    const problems = problemKinds(lab);
    /** @type {Array<[string, number?, number?]>} */
    const heard = [];
    const result = await lab
      .command('ramp_channel', { channel: 2, target: 1, rate_v_per_s: 5 }, { onProgress: ({ fraction, current }) => heard.push(['progress', fraction, current]) })
      .then((value) => {
        heard.push(['ack']);
        return value;
      });
    assert.deepEqual(result, { channel: 2, value: 1 });
    assert.equal(bias(lab, 2), 1);
    const progress = heard.slice(0, -1);
    assert.deepEqual(heard.at(-1), ['ack']);
    assert.ok(progress.length >= 2, `a 0.2 s ramp in 50 ms steps reports more than once: ${JSON.stringify(heard)}`);
    assert.ok(progress.every(([kind]) => kind === 'progress'));
    for (let i = 1; i < progress.length; i += 1) {
      assert.ok(/** @type {number} */ (progress[i][1]) > /** @type {number} */ (progress[i - 1][1]), `fractions rise: ${JSON.stringify(progress)}`);
      assert.ok(/** @type {number} */ (progress[i][2]) > /** @type {number} */ (progress[i - 1][2]), `the bias rises: ${JSON.stringify(progress)}`);
    }
    assert.deepEqual(progress.at(-1), ['progress', 1, 1]);
    assert.deepEqual(problems, []);
    await lab.command('reset');
  });

  test('cancelling mid-ramp answers cancelled and keeps the last stepped value', async () => {
    const lab = await connect(demo.url, { level: 2 });
    /** @type {number[]} */
    const currents = [];
    const ramp = lab.startCommand('ramp_channel', { channel: 3, target: 5, rate_v_per_s: 2 }, { onProgress: ({ current }) => currents.push(/** @type {number} */ (current)) });
    await until(() => currents.length >= 3, 'three progress reports');
    assert.equal(ramp.cancel(), true);
    await assert.rejects(ramp.result, (error) => error instanceof CommandError && error.code === 'cancelled' && error.requestId === ramp.requestId);
    const stopped = bias(lab, 3);
    assert.ok(stopped > 0 && stopped < 5, `stopped on the way: ${stopped}`);
    assert.ok(stopped >= /** @type {number} */ (currents.at(-1)), `at or past the last report: ${stopped} after ${currents}`);
    assert.equal((await serverState(demo.url)).channels[3].bias_voltage, stopped);
    // The ramp is over: the bias stays, and a second cancel sends nothing.
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal((await serverState(demo.url)).channels[3].bias_voltage, stopped);
    assert.equal(ramp.cancel(), false);
    await lab.command('reset');
  });

  test('a second ramp of the same channel is busy; an AbortSignal cancels', async () => {
    const [one, two] = await Promise.all([connect(demo.url, { level: 2 }), connect(demo.url, { level: 2 })]);
    const abort = new AbortController();
    /** @type {number[]} */
    const fractions = [];
    const first = one.command('ramp_channel', { channel: 0, target: 5, rate_v_per_s: 1 }, { signal: abort.signal, onProgress: ({ fraction }) => fractions.push(fraction) });
    await until(() => fractions.length > 0, 'the first ramp to run');
    await assert.rejects(two.command('ramp_channel', { channel: 0, target: -5, rate_v_per_s: 1 }), (error) =>
      error instanceof CommandError && error.code === 'busy' && /ramp_channel/.test(error.message));
    // Another channel is another group.
    assert.deepEqual(await two.command('ramp_channel', { channel: 1, target: 0.1, rate_v_per_s: 10 }), { channel: 1, value: 0.1 });
    abort.abort();
    await assert.rejects(first, { code: 'cancelled' });
    await one.command('reset');
  });

  test('every level-2 client sees the ramp in the running list until it ends', async () => {
    const [starter, watcher, old] = await Promise.all([connect(demo.url, { level: 2, hello: { name: 'starter' } }), connect(demo.url, { level: 2 }), connect(demo.url)]);
    const problems = [...problemKinds(watcher), ...problemKinds(old)];
    /** @type {string[]} */
    const changes = [];
    watcher.on('running', ({ change }) => changes.push(change));
    const ramp = starter.startCommand('ramp_channel', { channel: 2, target: 0.5, rate_v_per_s: 2 });
    await until(() => watcher.running.some((entry) => entry.progress !== undefined), 'the ramp with its progress in the list');
    const [entry] = watcher.running;
    assert.equal(watcher.running.length, 1);
    assert.deepEqual([entry.command, entry.clientId, entry.requestId, entry.client?.name], ['ramp_channel', starter.clientId, ramp.requestId, 'starter']);
    assert.ok(Math.abs(entry.startedAt - Date.now()) < 60_000, `startedAt is epoch milliseconds: ${entry.startedAt}`);
    assert.deepEqual(starter.running.map((running) => running.id), [entry.id]);
    await ramp.result;
    await until(() => watcher.running.length === 0 && starter.running.length === 0, 'the ramp to leave the list');
    // The list itself came with the snapshot, before this listener.
    assert.equal(changes[0], 'started');
    assert.ok(changes.includes('progress'), `deltas: ${changes}`);
    assert.equal(changes.at(-1), 'finished');
    // A level-1 client hears none of it.
    assert.equal(old.running.length, 0);
    assert.deepEqual(problems, []);
    await starter.command('reset');
  });
});

describe('against the demo with access control', { timeout: 60_000 }, () => {
  /** @type {{ url: string, stop: () => Promise<void> }} */
  let demo;
  const dir = mkdtempSync(join(tmpdir(), 'lab-link-js-'));
  before(async () => {
    demo = await startDemo(['--auth', join(dir, 'auth.sqlite'), '--no-trust-loopback']);
  });
  after(async () => {
    await demo?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('refused without a credential, then the login flow, a bearer token and 4401', async () => {
    const lab = client(demo.url);
    /** @type {unknown[]} */
    const auth = [];
    lab.on('auth', (event) => auth.push(event.reason));
    await assert.rejects(lab.connect(), /refused/);
    assert.deepEqual(auth, ['refused']);
    assert.equal(lab.status, 'unauthorized');

    // The first passphrase, chosen on the instrument computer; then log in.
    await lab.login('correct horse battery staple', { setup: true });
    await lab.connect();
    assert.equal((await lab.schema()).schemaHash, EXPECTED_SCHEMA.schemaHash);
    await assert.rejects(client(demo.url).login('wrong passphrase'), (error) => /** @type {any} */ (error).code === 'invalid_credentials');

    // An API token for a script, made with the session.
    const cookieClient = client(demo.url);
    await cookieClient.login('correct horse battery staple');
    const made = await fetch(`${demo.url}/sync/auth/tokens`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Cookie: /** @type {string} */ (await sessionCookie(demo.url)) },
      body: JSON.stringify({ label: 'js test', capabilities: ['control'] }),
    });
    assert.equal(made.status, 200);
    const { token } = await made.json();
    const script = client(demo.url, { token });
    await script.connect();
    assert.deepEqual(await script.command('set_enabled', { enabled: true }), { enabled: true });

    // Logging out ends the session: its socket is closed with 4401.
    await lab.logout();
    await until(() => auth.length === 2, 'the 4401 close');
    assert.deepEqual(auth, ['refused', 'expired']);
    assert.equal(lab.status, 'unauthorized');
  });
});

/**
 * A fresh session's cookie, by logging in over plain HTTP.
 *
 * @param {string} url
 */
async function sessionCookie(url) {
  const response = await fetch(`${url}/sync/auth/login`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ passphrase: 'correct horse battery staple' }),
  });
  return response.headers.get('set-cookie')?.match(/lab_link_session=[^;]*/)?.[0];
}
