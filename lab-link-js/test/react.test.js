// useLabLink under React 19, rendered without a DOM by react-dom/server.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createElement } from 'react';
import { renderToString } from 'react-dom/server';

import { LabLinkProvider, useLabLink } from '../src/react.js';
import { connected } from './fake-socket.js';

/** @param {{ channel: number }} props */
function Bias({ channel }) {
  const bias = useLabLink((client) => /** @type {any} */ (client.state)?.channels[channel]?.bias);
  const counts = useLabLink((client) => client.stream('counts')?.data.length ?? 0);
  return createElement('span', null, `ch${channel}: ${bias} V, ${counts} counts`);
}

test('renders what the selector picks from the provided client, as it changes', async () => {
  const { client, socket } = await connected();
  const page = () => renderToString(createElement(LabLinkProvider, { client }, createElement(Bias, { channel: 1 })));
  assert.equal(page(), '<span>ch1: 0 V, 0 counts</span>');
  socket.receive({ type: 'patch', patch: [{ op: 'replace', path: '/channels/1/bias', value: 2.5 }], version: 6 });
  socket.receive({ type: 'stream_snapshot', id: 'counts', data: [1, 2, 3], seq: 3 });
  assert.equal(page(), '<span>ch1: 2.5 V, 3 counts</span>');
});

test('a client passed directly needs no provider', async () => {
  const { client } = await connected();
  /** @param {{}} _ */
  const Enabled = (_) => createElement('b', null, String(useLabLink((c) => /** @type {any} */ (c.state).enabled, client)));
  assert.equal(renderToString(createElement(Enabled, {})), '<b>false</b>');
});

test('without a client the hook says what to do', () => {
  /** @param {{}} _ */
  const Orphan = (_) => createElement('i', null, String(useLabLink((c) => c.version)));
  assert.throws(() => renderToString(createElement(Orphan, {})), /render it inside <LabLinkProvider/);
});
