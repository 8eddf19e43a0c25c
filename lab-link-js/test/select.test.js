// watch() and the Svelte store: a callback only when the selection changes.

import { test } from 'node:test';
import assert from 'node:assert/strict';

import { labLinkStore } from '../src/svelte.js';
import { watch } from '../src/select.js';
import { connected } from './fake-socket.js';

test('watch calls back now and when the selection changes, not for other patches', async () => {
  const { client, socket } = await connected();
  /** @type {unknown[]} */
  const seen = [];
  const stop = watch(client, (c) => /** @type {any} */ (c.state).channels[0], (value) => seen.push(value));
  socket.receive({ type: 'patch', patch: [{ op: 'replace', path: '/enabled', value: true }], version: 6 });
  socket.receive({ type: 'patch', patch: [{ op: 'replace', path: '/channels/0/bias', value: 1 }], version: 7 });
  stop();
  socket.receive({ type: 'patch', patch: [{ op: 'replace', path: '/channels/0/bias', value: 2 }], version: 8 });
  assert.deepEqual(seen, [{ bias: 0 }, { bias: 1 }]);
});

test('the Svelte store follows the store contract', async () => {
  const { client, socket } = await connected();
  const enabled = labLinkStore(client, (c) => /** @type {any} */ (c.state).enabled);
  /** @type {unknown[]} */
  const seen = [];
  const unsubscribe = enabled.subscribe((value) => seen.push(value));
  socket.receive({ type: 'patch', patch: [{ op: 'replace', path: '/enabled', value: true }], version: 6 });
  socket.receive({ type: 'patch', patch: [{ op: 'replace', path: '/channels/1/bias', value: 3 }], version: 7 });
  unsubscribe();
  socket.receive({ type: 'patch', patch: [{ op: 'replace', path: '/enabled', value: false }], version: 8 });
  assert.deepEqual(seen, [false, true]);
});

test('the Svelte store follows the running commands', async () => {
  const { client, socket } = await connected({ level: 2 });
  const running = labLinkStore(client, (c) => c.running.map((r) => r.command).join());
  /** @type {unknown[]} */
  const seen = [];
  const unsubscribe = running.subscribe((value) => seen.push(value));
  socket.receive({ type: 'running_started', id: 1, command: 'ramp_channel', clientId: 'x', startedAt: 1 });
  socket.receive({ type: 'running_finished', id: 1, outcome: 'ok' });
  unsubscribe();
  assert.deepEqual(seen, ['', 'ramp_channel', '']);
});
