// The demo's page: a replica of the demo instrument over the browser
// runtime lab-link-js (the demo serves it at /lab-link.js), its controls,
// plots and login screen. No build step: these ES modules are served as
// they are.
//
//   connection.js  the LabLinkClient and the connection pill
//   render.js      the replica into the DOM, the controls into commands
//   plots.js       the streams' and the history's plots
//   auth.js        the setup, login and invitation screens

import { applyPatch } from './lab-link.js';
import { startAuth, authLost, authState } from './auth.js';
import { Connection } from './connection.js';
import { startPlots, streamCopy, streamUpdated } from './plots.js';
import {
  bind, command, dropOverlaysOf, failAllPending, render, renderCounters, scheduleRender, setRunning, toast, useConnection,
} from './render.js';

const connection = new Connection({
  patch(meta, own) {
    // The page's own edit came back: the replica holds the server's value now.
    if (own && meta.requestId !== undefined) dropOverlaysOf(meta.requestId);
    renderCounters();
    scheduleRender(meta.requestId !== undefined);
  },
  snapshot() {
    scheduleRender(true);
  },
  stream: streamUpdated,
  running: setRunning,
  auth: authLost,
  serverError: toast,
  dropped() {
    failAllPending('Connection lost');
  },
});
useConnection(connection);

// What the browser tests read and do.
window.labLink = {
  get state() { return connection.client.state === undefined ? null : connection.client.state; },
  get version() { return connection.client.version < 0 ? null : connection.client.version; },
  get clientId() { return connection.client.clientId || null; },
  get connected() { return connection.connected; },
  get resyncs() { return connection.resyncs; },
  // {enabled: null | false | true, principal}: what /auth/status said
  get auth() { return authState(); },
  patch: { apply: applyPatch },
  command,
  // Hands `text` (or an ArrayBuffer, a binary frame) to the client as if
  // the server had sent it: how the tests feed the page a version gap.
  receive(data) { connection.receive(data); },
  // A copy of stream `id` as the page holds it, or null: {seq, frames
  // (replace messages and binary frames since the page loaded), data}.
  stream: streamCopy,
};

bind();
render();
startPlots(connection);
startAuth(connection);
