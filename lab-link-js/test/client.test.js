// The client against a scripted socket: versions, resync, commands,
// subscriptions, streams, binary frames, reconnect and bad input.

import { test } from 'node:test';
import assert from 'node:assert/strict';

import { CommandError } from '../src/index.js';
import { connected, DOC, FakeSocket } from './fake-socket.js';

test('a snapshot then patches in version order', async () => {
  const { client, socket, problems } = await connected();
  assert.equal(socket.url, 'ws://lab:8000/sync/ws');
  assert.equal(client.version, 5);
  assert.equal(client.clientId, 'me');
  /** @type {unknown[]} */
  const patches = [];
  client.on('patch', (event) => patches.push([event.version, event.own, event.meta.command]));
  socket.receive({ type: 'patch', patch: [{ op: 'replace', path: '/enabled', value: true }], version: 6, originClientId: 'me', requestId: 'js1', command: 'set_enabled' });
  assert.deepEqual(client.state, { ...DOC, enabled: true });
  assert.deepEqual(patches, [[6, true, 'set_enabled']]);
  assert.deepEqual(problems, []);
});

test('a version gap resyncs and drops patches until the snapshot', async () => {
  const { client, socket, problems } = await connected();
  socket.receive({ type: 'patch', patch: [{ op: 'replace', path: '/enabled', value: true }], version: 7 });
  assert.deepEqual(problems.map((p) => p.kind), ['version_gap']);
  assert.deepEqual(socket.messages, [{ type: 'resync' }]);
  socket.receive({ type: 'patch', patch: [{ op: 'replace', path: '/enabled', value: true }], version: 8 });
  assert.equal(client.version, 5);
  assert.equal(/** @type {typeof DOC} */ (client.state).enabled, false);
  socket.receive({ type: 'snapshot', data: { ...DOC, enabled: true }, version: 8 });
  socket.receive({ type: 'patch', patch: [{ op: 'add', path: '/labels/a~1b', value: 'x' }], version: 9 });
  assert.deepEqual(client.state, { ...DOC, enabled: true, labels: { 'a/b': 'x' } });
});

test('a patch that does not apply leaves the replica and resyncs', async () => {
  const { client, socket, problems } = await connected();
  const before = client.state;
  socket.receive({ type: 'patch', patch: [{ op: 'replace', path: '/enabled', value: true }, { op: 'remove', path: '/channels/9' }], version: 6 });
  assert.equal(client.state, before);
  assert.equal(client.version, 5);
  assert.deepEqual(problems.map((p) => p.kind), ['patch_failed']);
  assert.deepEqual(socket.messages, [{ type: 'resync' }]);
});

test('bad frames are typed problems, never exceptions', async () => {
  const { client, socket, problems } = await connected();
  for (const frame of ['{', '[1]', '{"type":3}', { type: 'patch', version: 'x' }, { type: 'stream_append', id: 'c', data: 'no', seq: 1 }, { type: 'presence_delta' }, { type: 'error', code: 'bad_message', message: 'nope' }, new Uint8Array([1, 9]).buffer, new Uint8Array([9, 0, 0]).buffer]) {
    socket.receive(frame);
  }
  assert.deepEqual(problems.map((p) => p.kind), [
    'malformed_frame', 'malformed_frame', 'malformed_frame', 'malformed_frame', 'malformed_frame',
    'unknown_message', 'bad_message', 'malformed_frame', 'unknown_message',
  ]);
  assert.equal(client.status, 'open');
  // The malformed patch resynced; the malformed stream message asked for its stream.
  assert.deepEqual(socket.messages, [{ type: 'resync' }, { type: 'stream_resync', id: 'c' }]);
});

test('a throwing callback is a listener_failed problem', async () => {
  const { client, socket, problems } = await connected();
  client.subscribe('/enabled', (value) => {
    if (value) throw new Error('boom');
  });
  socket.receive({ type: 'patch', patch: [{ op: 'replace', path: '/enabled', value: true }], version: 6 });
  assert.equal(client.version, 6);
  assert.deepEqual(problems.map((p) => p.kind), ['listener_failed']);
});

test('subscriptions fire only when their subtree changes', async () => {
  const { client, socket } = await connected();
  /** @type {unknown[]} */
  const seen = [];
  client.subscribe('/channels/1', (value, version) => seen.push([version, value]));
  socket.receive({ type: 'patch', patch: [{ op: 'replace', path: '/channels/0/bias', value: 1 }], version: 6 });
  socket.receive({ type: 'patch', patch: [{ op: 'replace', path: '/channels/1/bias', value: 2 }], version: 7 });
  // A snapshot with the same value there is no change.
  socket.receive({ type: 'snapshot', data: { ...DOC, channels: [{ bias: 5 }, { bias: 2 }] }, version: 9 });
  assert.deepEqual(seen, [[5, { bias: 0 }], [7, { bias: 2 }]]);
});

test('commands resolve with the ack and reject with a structured CommandError', async () => {
  const { client, socket } = await connected();
  const ok = client.commands.set_channel({ channel: 0, value: 1.25 });
  const failed = client.command('set_channel', { channel: 0, value: 12 });
  assert.deepEqual(socket.messages, [
    { type: 'command', command: 'set_channel', params: { channel: 0, value: 1.25 }, requestId: 'js1' },
    { type: 'command', command: 'set_channel', params: { channel: 0, value: 12 }, requestId: 'js2' },
  ]);
  socket.receive({ type: 'command_ack', command: 'set_channel', requestId: 'js1', version: 6, result: { channel: 0, value: 1.25 } });
  socket.receive({ type: 'command_error', command: 'set_channel', requestId: 'js2', code: 'out_of_range', message: 'too big', severity: 'error', display: 'inline', path: '/channels/0/bias', recoverable: true, version: 6 });
  assert.deepEqual(await ok, { channel: 0, value: 1.25 });
  await assert.rejects(failed, (error) => {
    assert.ok(error instanceof CommandError);
    assert.deepEqual([error.code, error.message, error.display, error.path, error.severity, error.recoverable], ['out_of_range', 'too big', 'inline', '/channels/0/bias', 'error', true]);
    return true;
  });
});

test('a command waiting when the socket drops rejects with connection_lost', async () => {
  const { client, socket } = await connected();
  const waiting = client.command('reset');
  socket.serverClose(1001, 'server shutting down');
  await assert.rejects(waiting, (error) => error instanceof CommandError && error.code === 'connection_lost');
  await assert.rejects(client.command('reset'), (error) => error instanceof CommandError && error.code === 'not_connected');
  client.close();
});

test('reconnects with ?since= and keeps the replica on resume', async () => {
  const { client, socket } = await connected();
  socket.receive({ type: 'patch', patch: [{ op: 'replace', path: '/enabled', value: true }], version: 6 });
  const state = client.state;
  socket.serverClose(1006);
  await new Promise((resolve) => setTimeout(resolve, 20));
  const again = FakeSocket.last;
  assert.notEqual(again, socket);
  assert.equal(again.url, 'ws://lab:8000/sync/ws?since=6');
  /** @type {boolean[]} */
  const resumed = [];
  client.on('snapshot', (event) => resumed.push(event.resumed));
  again.open();
  again.receive({ type: 'resume', version: 6 });
  again.receive({ type: 'patch', patch: [{ op: 'replace', path: '/enabled', value: false }], version: 7 });
  assert.deepEqual(resumed, [true]);
  assert.equal(client.version, 7);
  assert.notEqual(client.state, state);
  // A resume at another version resyncs.
  again.receive({ type: 'resume', version: 3 });
  assert.deepEqual(again.messages, [{ type: 'resync' }]);
  client.close();
});

test('level 2 is opt-in: ?level=2, hello and cancel', async () => {
  const { client, socket } = await connected({ level: 2, hello: { name: 'panel' } });
  assert.equal(socket.url, 'ws://lab:8000/sync/ws?level=2');
  const abort = new AbortController();
  /** @type {unknown[]} */
  const progress = [];
  const running = client.command('ramp', { to: 1 }, { signal: abort.signal, onProgress: (p) => progress.push(p.fraction) });
  socket.receive({ type: 'command_progress', requestId: 'js1', fraction: 0.5 });
  abort.abort();
  socket.receive({ type: 'command_error', command: 'ramp', requestId: 'js1', code: 'cancelled', message: 'cancelled' });
  await assert.rejects(running, (error) => error instanceof CommandError && error.code === 'cancelled');
  assert.deepEqual(progress, [0.5]);
  assert.deepEqual(socket.messages.map((m) => m.type), ['hello', 'command', 'cancel']);
  assert.deepEqual(socket.messages[0], { type: 'hello', level: 2, client: { kind: 'browser', name: 'panel' } });
});

test('streams: append with capacity, int_delta, seq gaps and binary frames', async () => {
  const { client, socket, problems } = await connected({ streamCapacity: 3 });
  /** @type {unknown[]} */
  const counts = [];
  client.subscribeStream('counts', (stream) => counts.push(Array.from(stream.data)));
  socket.receive({ type: 'stream_snapshot', id: 'counts', data: [1, 2], seq: 2 });
  socket.receive({ type: 'stream_append', id: 'counts', data: [3, 4], seq: 3 });
  socket.receive({ type: 'stream_snapshot', id: 'hist', data: [0, 0, 0], seq: 0 });
  socket.receive({ type: 'stream_delta', id: 'hist', deltas: [[0, 2], [2, -1]], seq: 1 });
  socket.receive({ type: 'stream_delta', id: 'hist', deltas: [[1, 1]], seq: 3 });
  socket.receive({ type: 'stream_delta', id: 'hist', deltas: [[1, 1]], seq: 4 });
  assert.deepEqual(counts, [[1, 2], [2, 3, 4]]);
  assert.deepEqual(client.stream('hist')?.data, [2, 0, -1]);
  assert.equal(client.stream('hist')?.stale, true);
  assert.deepEqual(problems.map((p) => p.kind), ['stream_gap']);
  assert.deepEqual(socket.messages, [{ type: 'stream_resync', id: 'hist' }]);

  // 0x01: float32, 0x02: float64; id "tr", seq 7.
  const f32 = new Uint8Array([1, 2, 0, 0x74, 0x72, 7, 0, 0, 0, ...new Uint8Array(new Float32Array([0.5, -1]).buffer)]);
  socket.receive(f32.buffer);
  assert.ok(client.stream('tr')?.data instanceof Float32Array);
  assert.deepEqual(Array.from(client.stream('tr')?.data ?? []), [0.5, -1]);
  const f64 = new Uint8Array([2, 2, 0, 0x74, 0x72, 8, 0, 0, 0, ...new Uint8Array(new Float64Array([0.1]).buffer)]);
  socket.receive(f64.buffer);
  assert.deepEqual(Array.from(client.stream('tr')?.data ?? []), [0.1]);
  assert.equal(client.stream('tr')?.seq, 8);
});

test('close 4401 is an auth event and stops reconnecting', async () => {
  const { client, socket } = await connected({ token: 'll_secret' });
  assert.deepEqual(socket.headers, { Authorization: 'Bearer ll_secret' });
  /** @type {unknown[]} */
  const auth = [];
  client.on('auth', (event) => auth.push(event));
  const count = FakeSocket.made.length;
  socket.serverClose(4401, 'Authentication expired');
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.deepEqual(auth, [{ reason: 'expired', code: 4401, message: 'Authentication expired' }]);
  assert.equal(client.status, 'unauthorized');
  assert.equal(FakeSocket.made.length, count);
});

test('a schema hash other than the expected one is a problem', async () => {
  /** @type {string[]} */
  const asked = [];
  const { problems } = await connected({
    expectedSchemaHash: 'sha256:old',
    fetch: async (url, init) => {
      asked.push(`${url} ${JSON.stringify(init?.headers)}`);
      return new Response(JSON.stringify({ schemaHash: 'sha256:new' }), { status: 200 });
    },
  });
  await new Promise((resolve) => setTimeout(resolve, 10));
  assert.deepEqual(asked, ['http://lab:8000/sync/schema {"If-None-Match":"\\"sha256:old\\""}']);
  assert.deepEqual(problems.map((p) => [p.kind, p.expected, p.actual]), [['schema_mismatch', 'sha256:old', 'sha256:new']]);
});

test('optimistic edits show at once and give way to the server', async () => {
  const { client, socket } = await connected();
  /** @type {unknown[]} */
  const seen = [];
  client.subscribe('/enabled', (value) => seen.push(value));
  const confirmed = client.command('set_enabled', { enabled: true }, { optimistic: [{ op: 'replace', path: '/enabled', value: true }] });
  assert.equal(/** @type {any} */ (client.state).enabled, true);
  // Another client's patch keeps the edit on top.
  socket.receive({ type: 'patch', patch: [{ op: 'replace', path: '/channels/0/bias', value: 1 }], version: 6 });
  assert.deepEqual(client.state, { ...DOC, enabled: true, channels: [{ bias: 1 }, { bias: 0 }] });
  // The command's own patch replaces the edit, then its ack.
  socket.receive({ type: 'patch', patch: [{ op: 'replace', path: '/enabled', value: true }], version: 7, originClientId: 'me', requestId: 'js1', command: 'set_enabled' });
  socket.receive({ type: 'command_ack', command: 'set_enabled', requestId: 'js1', version: 7, result: { enabled: true } });
  await confirmed;
  assert.equal(/** @type {any} */ (client.state).enabled, true);

  // A refused command's edit is undone.
  const refused = client.command('add_channel', { name: 'x' }, { optimistic: [{ op: 'add', path: '/channels/-', value: { bias: 0 } }] });
  assert.equal(/** @type {any} */ (client.state).channels.length, 3);
  socket.receive({ type: 'command_error', command: 'add_channel', requestId: 'js2', code: 'busy', message: 'busy' });
  await assert.rejects(refused, CommandError);
  assert.equal(/** @type {any} */ (client.state).channels.length, 2);
  assert.deepEqual(seen, [false, true]);

  // An edit that does not apply is refused before it is sent.
  await assert.rejects(client.command('x', {}, { optimistic: [{ op: 'remove', path: '/nope' }] }), (error) => error instanceof CommandError && error.code === 'invalid_params');
  assert.equal(socket.sent.length, 2);
});

test('level 2: progress in order, a handle that cancels, and its checks', async () => {
  const { client, socket, problems } = await connected({ level: 2 });
  /** @type {unknown[]} */
  const heard = [];
  client.on('progress', (p) => heard.push(['event', p.requestId, p.fraction]));
  const ramp = client.startCommand('ramp', { to: 1 }, { onProgress: (p) => heard.push(['own', p.fraction, p.current, p.unit, p.eta_s]) });
  assert.equal(ramp.requestId, 'js1');
  socket.receive({ type: 'command_progress', requestId: 'js1', fraction: 0.25, current: 0.25, unit: 'V', eta_s: 3 });
  socket.receive({ type: 'command_progress', requestId: 'js1', fraction: 0.5, message: 'ramping' });
  assert.equal(ramp.cancel(), true);
  socket.receive({ type: 'command_error', command: 'ramp', requestId: 'js1', code: 'cancelled', message: 'Cancelled.' });
  await assert.rejects(ramp.result, (error) => error instanceof CommandError && error.code === 'cancelled' && error.requestId === 'js1');
  assert.deepEqual(heard, [['own', 0.25, 0.25, 'V', 3], ['event', 'js1', 0.25], ['own', 0.5, undefined, undefined, undefined], ['event', 'js1', 0.5]]);
  // Answered: nothing left to cancel, nothing sent.
  assert.equal(ramp.cancel(), false);
  assert.equal(client.cancel('js99'), false);
  assert.deepEqual(socket.messages, [{ type: 'command', command: 'ramp', params: { to: 1 }, requestId: 'js1' }, { type: 'cancel', requestId: 'js1' }]);
  // A cancel that crossed the answer: the server's unknown_request is a typed problem.
  socket.receive({ type: 'error', code: 'unknown_request', message: 'no running command with requestId "js1"' });
  // Malformed progress: a typed problem, never a throw, never a callback.
  for (const frame of [
    { type: 'command_progress', requestId: 'js2', fraction: 'half' },
    { type: 'command_progress', requestId: 'js2', fraction: 1.5 },
    { type: 'command_progress', requestId: 7, fraction: 0.5 },
    { type: 'command_progress', requestId: 'js2', fraction: 0.5, eta_s: 'soon' },
  ]) {
    socket.receive(frame);
  }
  assert.deepEqual(problems.map((p) => p.kind), ['unknown_request', 'malformed_frame', 'malformed_frame', 'malformed_frame', 'malformed_frame']);
  assert.equal(heard.length, 4);
  assert.equal(client.status, 'open');
});

test('level 1: progress and cancel say they need level 2, sending nothing', async () => {
  const { client, socket } = await connected();
  await assert.rejects(
    client.command('ramp', {}, { onProgress: () => {} }),
    (error) => error instanceof CommandError && error.code === 'level_2_required' && /level: 2/.test(error.message),
  );
  await assert.rejects(client.command('ramp', {}, { signal: new AbortController().signal }), { code: 'level_2_required' });
  const plain = client.startCommand('ramp', {});
  assert.throws(() => plain.cancel(), { code: 'level_2_required' });
  assert.throws(() => client.cancel(plain.requestId), { code: 'level_2_required' });
  assert.deepEqual(socket.messages.map((m) => m.type), ['command']);
  socket.receive({ type: 'command_ack', command: 'ramp', requestId: plain.requestId, result: null });
  assert.equal(await plain.result, null);
});

test('the running commands: the list, then its deltas, cleared on disconnect', async () => {
  const { client, socket, problems } = await connected({ level: 2 });
  assert.equal(client.running.length, 0);
  /** @type {unknown[]} */
  const changes = [];
  client.on('running', (event) => changes.push([event.change, event.running.map((r) => [r.id, r.progress?.fraction]), event.outcome]));
  const first = { id: 3, command: 'ramp_channel', clientId: 'other', requestId: 'r7', startedAt: 1764770000000, progress: { fraction: 0.25 } };
  socket.receive({ type: 'running_commands', commands: [first] });
  socket.receive({ type: 'running_started', id: 4, command: 'ramp_channel', clientId: 'me', requestId: 'js1', client: { kind: 'browser' }, startedAt: 1764770001000 });
  const listed = client.running;
  socket.receive({ type: 'running_progress', id: 4, progress: { fraction: 0.5, current: 2.5 } });
  assert.notEqual(client.running, listed);
  assert.equal(client.running[0], listed[0], 'an entry that did not change keeps its identity');
  assert.deepEqual(client.running[1], { id: 4, command: 'ramp_channel', clientId: 'me', requestId: 'js1', client: { kind: 'browser' }, startedAt: 1764770001000, progress: { fraction: 0.5, current: 2.5 } });
  socket.receive({ type: 'running_finished', id: 3, outcome: 'cancelled' });
  // Deltas for a run the list does not hold change nothing.
  socket.receive({ type: 'running_progress', id: 99, progress: { fraction: 0.5 } });
  socket.receive({ type: 'running_finished', id: 99, outcome: 'ok' });
  assert.deepEqual(changes, [
    ['list', [[3, 0.25]], undefined],
    ['started', [[3, 0.25], [4, undefined]], undefined],
    ['progress', [[3, 0.25], [4, 0.5]], undefined],
    ['finished', [[4, 0.5]], 'cancelled'],
  ]);
  assert.deepEqual(problems, []);
  socket.serverClose(1006);
  assert.deepEqual(client.running, []);
  assert.deepEqual(changes.at(-1), ['cleared', [], undefined]);
  client.close();
});

test('a malformed running message is a typed problem and resyncs', async () => {
  const { client, socket, problems } = await connected({ level: 2 });
  socket.receive({ type: 'running_started', id: 4, command: 'ramp_channel', clientId: 'me', startedAt: 1 });
  for (const frame of [
    { type: 'running_commands', commands: 'none' },
    { type: 'running_commands', commands: [{ id: 1, command: 'x', clientId: 'c' }] },
    { type: 'running_started', id: -1, command: 'x', clientId: 'c', startedAt: 1 },
    { type: 'running_started', id: 5, command: 'x', clientId: 'c', startedAt: 1, client: { name: 3 } },
    { type: 'running_progress', id: 4, progress: { fraction: Infinity } },
    { type: 'running_progress', id: 'x', progress: { fraction: 0.5 } },
    { type: 'running_finished', id: 4 },
  ]) {
    socket.receive(frame);
  }
  assert.deepEqual(problems.map((p) => p.kind), Array(7).fill('malformed_frame'));
  assert.deepEqual(socket.messages, Array(7).fill({ type: 'resync' }));
  assert.deepEqual(client.running.map((r) => r.id), [4]);
  assert.equal(client.status, 'open');
});
