// The page's rendering and input: the replica (with the pending edits
// of the page's own commands over it) into the DOM, the controls into
// commands, their errors into inline slots, toasts and the banner, and the
// running commands (level 2) with their Stop buttons.

import { formatPointer, getPointer, jsonEqual, parsePointer } from './lab-link.js';
import { renderHistoryChoices } from './plots.js';

/** @type {import('./connection.js').Connection} */
var connection;

/** @param {import('./connection.js').Connection} conn */
export function useConnection(conn) {
  connection = conn;
}

export function $(sel) { return document.querySelector(sel); }

// The replica, or null before the first snapshot.
function state() {
  var replica = connection.client.state;
  return replica === undefined ? null : replica;
}

function clientId() {
  return connection.client.clientId || null;
}

var requests = new Map();   // requestId -> {command, params, el, overlays, clears, onAck}
var overlays = new Map();   // pointer -> {value, requestId}
var inlineErrors = new Map(); // slot pointer -> message

// The commands running on the server (level 2), by their id.
var running = new Map();

/**
 * The client's running list changed.
 *
 * @param {readonly any[]} list
 */
export function setRunning(list) {
  running = new Map(list.map(function (entry) { return [entry.id, entry]; }));
  renderRunning();
}

// Updates the list in place: an entry's row (and its Stop button) stays
// the same element while its progress moves.
function renderRunning() {
  var list = $('#running');
  if (!list) return;
  Array.from(list.children).forEach(function (item) {
    if (!running.has(Number(item.dataset.runningId))) item.remove();
  });
  running.forEach(function (entry) {
    var item = list.querySelector('li[data-running-id="' + entry.id + '"]');
    if (!item) {
      item = document.createElement('li');
      item.dataset.runningId = String(entry.id);
      var label = document.createElement('span');
      label.className = 'run-label';
      var bar = document.createElement('progress');
      bar.max = 1;
      item.appendChild(label);
      item.appendChild(bar);
      if (clientId() !== null && entry.clientId === clientId() && entry.requestId != null) {
        var stop = document.createElement('button');
        stop.type = 'button';
        stop.className = 'btn stop';
        stop.textContent = 'Stop';
        stop.addEventListener('click', function () {
          connection.client.cancel(String(entry.requestId));
        });
        item.appendChild(stop);
      }
      list.appendChild(item);
    }
    var p = entry.progress || {};
    var text = entry.command + (p.message ? ': ' + p.message : '');
    if (typeof p.current === 'number') text += ' (' + p.current.toFixed(3) + (p.unit ? ' ' + p.unit : '') + ')';
    item.querySelector('.run-label').textContent = text;
    if (typeof p.fraction === 'number') item.querySelector('progress').value = p.fraction;
  });
}

/**
 * Sends a command. `opts.el` shows as pending until the answer,
 * `opts.overlay` (pointer → value) shows at once over the replica until
 * the command's own patch or its answer, `opts.clears` are the inline
 * errors its ack clears, `opts.onAck(result)` runs on the ack. Returns the
 * requestId, or null when not connected.
 */
export function command(name, params, opts) {
  opts = opts || {};
  if (connection.client.status !== 'open') {
    toast({ code: 'not_connected', message: 'Not connected: "' + name + '" was not sent.', severity: 'warning' });
    scheduleRender(true);
    return null;
  }
  var handle = connection.client.startCommand(name, params || {});
  var requestId = handle.requestId;
  handle.result.then(function (result) { onAck(requestId, result); }, function (error) { onCommandError(requestId, error); });
  var req = { command: name, params: params, el: opts.el || null, overlays: [], clears: opts.clears || [], onAck: opts.onAck };
  requests.set(requestId, req);
  if (opts.overlay) {
    for (var p in opts.overlay) {
      overlays.set(p, { value: opts.overlay[p], requestId: requestId });
      req.overlays.push(p);
    }
  }
  if (req.el) req.el.classList.add('pending');
  scheduleRender(true);
  return requestId;
}

/**
 * The command's own patch arrived: the replica holds the server's value
 * for its edit now.
 */
export function dropOverlaysOf(requestId) {
  var req = requests.get(requestId);
  if (!req) return;
  req.overlays.forEach(function (p) {
    var o = overlays.get(p);
    if (o && o.requestId === requestId) overlays.delete(p);
  });
}

function finish(requestId) {
  var req = requests.get(requestId);
  if (!req) return null;
  dropOverlaysOf(requestId);
  requests.delete(requestId);
  if (req.el) {
    var el = req.el, still = false;
    requests.forEach(function (r) { if (r.el === el) still = true; });
    if (!still) el.classList.remove('pending');
  }
  return req;
}

export function failAllPending(reason) {
  if (requests.size === 0) return;
  var n = requests.size;
  Array.from(requests.keys()).forEach(finish);
  overlays.clear();
  console.warn('lab-link: ' + n + ' pending command(s) dropped: ' + reason);
  scheduleRender(true);
}

function onAck(requestId, result) {
  var req = finish(requestId);
  if (req) {
    req.clears.forEach(function (p) { inlineErrors.delete(p); });
    if (req.onAck) { try { req.onAck(result); } catch (e) { console.error(e); } }
  }
  scheduleRender(true);
}

// A CommandError: the server's, or the client's when the connection
// dropped first (those were already dropped with the connection).
function onCommandError(requestId, error) {
  if (!finish(requestId)) return;
  if (error.code === 'connection_lost' || error.code === 'not_connected') {
    console.warn('lab-link: ' + error.message);
    scheduleRender(true);
    return;
  }
  showError(error);
  scheduleRender(true);
}

function showError(err) {
  var display = err.display || 'toast';
  if (display === 'banner') { showBanner(err); return; }
  if (display === 'inline') {
    var slot = findSlot(err.path);
    if (slot) {
      inlineErrors.set(slot, err.message || err.code);
      return;
    }
  }
  toast(err);
}

// nearest existing [data-error-for] slot for a pointer, walking up its parents
function findSlot(path) {
  if (typeof path !== 'string') return null;
  var slots = Array.from(document.querySelectorAll('[data-error-for]')).map(function (e) { return e.getAttribute('data-error-for'); });
  var tokens;
  try { tokens = parsePointer(path); } catch (e) { return null; }
  while (tokens.length > 0) {
    var p = formatPointer(tokens);
    if (slots.indexOf(p) !== -1) return p;
    tokens.pop();
  }
  return null;
}

function clearInline(paths) {
  var changed = false;
  paths.forEach(function (p) { if (inlineErrors.delete(p)) changed = true; });
  if (changed) renderErrorSlots();
}


// Toasts and the banner.

export function toast(err) {
  var box = $('#toasts');
  var t = document.createElement('div');
  t.className = 'toast sev-' + (err.severity || 'error');
  t.dataset.code = err.code || 'error';
  t.setAttribute('role', 'status');
  var body = document.createElement('div');
  body.className = 'toast-body';
  var m = document.createElement('div');
  m.className = 'toast-message';
  m.textContent = err.message || err.code || 'Error';
  body.appendChild(m);
  var meta = document.createElement('div');
  meta.className = 'toast-detail';
  meta.textContent = [err.command, err.code, err.detail].filter(Boolean).join(' · ');
  if (meta.textContent) body.appendChild(meta);
  var x = document.createElement('button');
  x.className = 'toast-close';
  x.type = 'button';
  x.setAttribute('aria-label', 'Dismiss');
  x.textContent = '×';
  x.onclick = function () { t.remove(); };
  t.appendChild(body);
  t.appendChild(x);
  box.appendChild(t);
  while (box.children.length > 5) box.removeChild(box.firstChild);
  setTimeout(function () { t.classList.add('leaving'); setTimeout(function () { t.remove(); }, 300); }, 6000);
}

function showBanner(err) {
  var b = $('#banner');
  b.querySelector('.banner-message').textContent = err.message || err.code;
  var d = b.querySelector('.banner-detail');
  d.textContent = [err.detail, err.command ? 'command: ' + err.command : '', err.code ? 'code: ' + err.code : '']
    .filter(Boolean).join(' · ');
  b.dataset.code = err.code || '';
  b.className = 'banner sev-' + (err.severity || 'error');
  b.hidden = false;
}


// Rendering: the replica with the pending edits over it.

// Coalesced rendering: at most one render per ~25 ms (high tick rates send
// a patch per tick); not tied to requestAnimationFrame so the DOM hooks
// stay current in background tabs too.
// Anything the user caused (commands, acks, errors, own echoes) renders
// right away (microtask).
var renderQueued = false;
var renderTimer = null;
var lastRender = 0;
function runRender() {
  renderQueued = false;
  clearTimeout(renderTimer); renderTimer = null;
  lastRender = Date.now();
  render();
}
export function scheduleRender(urgent) {
  if (renderQueued && !(urgent && renderTimer !== null)) return;
  renderQueued = true;
  var wait = urgent ? 0 : lastRender + 25 - Date.now();
  if (wait <= 0) {
    clearTimeout(renderTimer); renderTimer = null;
    Promise.resolve().then(function () { if (renderQueued) runRender(); });
  } else renderTimer = setTimeout(runRender, wait);
}

// The value at `path`: a pending edit's, else the replica's, else `fallback`.
export function view(path, fallback) {
  var o = overlays.get(path);
  if (o) return o.value;
  var replica = state();
  if (replica === null) return fallback;
  var value;
  try { value = getPointer(replica, path); } catch (e) { return fallback; }
  return value === undefined ? fallback : value;
}
function isPending(path) { return overlays.has(path); }

function numStr(v) { return (typeof v === 'number' && isFinite(v)) ? String(v) : ''; }

// Write the model's value into an input only when the model value changed
// since we last rendered it: a draft the user is typing (focused or not)
// survives unrelated re-renders, a change made by someone else wins.
function setInputValue(el, str) {
  if (el.dataset.rendered === str) return;
  el.value = str;
  el.dataset.rendered = str;
}

function setChecked(el, on) {
  if (el.checked !== !!on) el.checked = !!on;
}

// cheap, frequently changing hooks: kept exact on every patch
export function renderCounters() {
  var replica = state();
  var v = connection.client.version < 0 ? '0' : String(connection.client.version);
  var ve = document.getElementById('version');
  if (ve.textContent !== v) ve.textContent = v;
  var acq = replica && replica.acquisition;
  if (acq && typeof acq === 'object') {
    var c = String(typeof acq.count === 'number' ? acq.count : 0);
    var ce = document.getElementById('acq-count');
    if (ce.textContent !== c) ce.textContent = c;
    var r = acq.running ? 'running' : 'stopped';
    var re = document.getElementById('acq-running');
    if (re.textContent !== r) re.textContent = r;
  }
}

export function render() {
  renderCounters();
  var replica = state();
  var id = clientId();
  $('#client-id').textContent = id ? id.slice(0, 8) : (replica !== null ? 'level 1' : '—');
  $('#client-id').title = id || '';
  if (replica === null) {
    var waiting = $('#channels-empty');
    waiting.textContent = 'Waiting for the server…';
    waiting.hidden = false;
    renderErrorSlots();
    return;
  }
  $('#channels-empty').textContent = 'No channels.';
  renderHistoryChoices();

  // output
  var en = $('#enabled');
  setChecked(en, view('/enabled', false));
  en.closest('.switch').classList.toggle('pending', isPending('/enabled'));
  $('#enabled-text').textContent = view('/enabled', false) ? 'ON' : 'OFF';
  $('#output-card').classList.toggle('is-on', !!view('/enabled', false));

  renderChannels(replica);
  renderLabels(replica);

  // acquisition
  var acq = replica.acquisition || {};
  var running = !!acq.running;
  $('#acq-state').dataset.running = running ? 'true' : 'false';
  setInputValue($('#acq-rate'), numStr(acq.rate_hz));
  $('#acq-rate-now').textContent = typeof acq.rate_hz === 'number' ? acq.rate_hz + ' Hz' : '';

  renderErrorSlots();
}

function renderChannels(replica) {
  var chans = Array.isArray(replica.channels) ? replica.channels : [];
  var tbody = $('#channels tbody');
  if (tbody.children.length > chans.length) {
    // rows went away: drop their inline errors
    inlineErrors.forEach(function (_, p) {
      var m = /^\/channels\/(\d+)(\/|$)/.exec(p);
      if (m && Number(m[1]) >= chans.length) inlineErrors.delete(p);
    });
  }
  while (tbody.children.length > chans.length) tbody.removeChild(tbody.lastElementChild);
  while (tbody.children.length < chans.length) tbody.appendChild(makeChannelRow(tbody.children.length));
  $('#channel-count').textContent = chans.length + (chans.length === 1 ? ' channel' : ' channels');
  $('#channels-empty').hidden = chans.length !== 0;
  for (var i = 0; i < chans.length; i++) {
    var row = tbody.children[i];
    var ch = chans[i] || {};
    var name = row.querySelector('.channel-name');
    if (name.textContent !== String(ch.name)) name.textContent = String(ch.name);
    var bp = '/channels/' + i + '/bias_voltage';
    var bias = row.querySelector('input.bias');
    setInputValue(bias, numStr(view(bp, ch.bias_voltage)));
    bias.classList.toggle('pending', isPending(bp));
    var ap = '/channels/' + i + '/active';
    var act = row.querySelector('input.active');
    setChecked(act, view(ap, ch.active));
    act.closest('.switch').classList.toggle('pending', isPending(ap));
    row.classList.toggle('is-active', !!view(ap, ch.active));
  }
}

function makeChannelRow(i) {
  var tr = document.createElement('tr');
  tr.dataset.channel = String(i);
  tr.innerHTML =
    '<td class="idx num"></td>' +
    '<td><span class="channel-name"></span><div class="field-error" hidden></div></td>' +
    '<td class="bias-cell"><span class="unit-input"><input class="bias" type="number" step="0.001" min="-10" max="10" inputmode="decimal" autocomplete="off"><span class="unit">V</span></span>' +
    '<div class="field-error" hidden></div></td>' +
    '<td><label class="switch"><input class="active" type="checkbox"><span class="slider" aria-hidden="true"></span></label></td>' +
    '<td class="row-actions"><button type="button" class="remove icon-btn" title="Remove channel">Remove</button></td>';
  tr.querySelector('.idx').textContent = String(i);
  var errs = tr.querySelectorAll('.field-error');
  errs[0].setAttribute('data-error-for', '/channels/' + i);
  errs[1].setAttribute('data-error-for', '/channels/' + i + '/bias_voltage');
  var bias = tr.querySelector('input.bias');
  bias.setAttribute('aria-label', 'bias voltage of channel ' + i);
  tr.querySelector('input.active').setAttribute('aria-label', 'channel ' + i + ' active');
  return tr;
}

// The client's documents are never changed in place: the labels held
// last can be compared with the next.
var renderedLabels = null;
function renderLabels(replica) {
  var labels = (replica.labels && typeof replica.labels === 'object') ? replica.labels : {};
  if (renderedLabels !== null && jsonEqual(renderedLabels, labels)) return;
  renderedLabels = labels;
  var list = $('#labels');
  var keys = Object.keys(labels).sort();
  list.textContent = '';
  keys.forEach(function (k) {
    var li = document.createElement('li');
    li.className = 'label-item';
    li.dataset.key = k;
    var ks = document.createElement('span');
    ks.className = 'label-key';
    ks.textContent = k;
    ks.title = k;
    var vs = document.createElement('span');
    vs.className = 'label-value';
    var v = labels[k];
    vs.textContent = typeof v === 'string' ? v : JSON.stringify(v);
    vs.title = vs.textContent;
    var rm = document.createElement('button');
    rm.type = 'button';
    rm.className = 'remove-label icon-btn';
    rm.title = 'Remove label';
    rm.textContent = '×';
    li.appendChild(ks); li.appendChild(vs); li.appendChild(rm);
    list.appendChild(li);
  });
  $('#labels-empty').hidden = keys.length !== 0;
}

function renderErrorSlots() {
  document.querySelectorAll('[data-error-for]').forEach(function (slot) {
    var p = slot.getAttribute('data-error-for');
    var msg = inlineErrors.get(p);
    if (msg) {
      if (slot.textContent !== msg) slot.textContent = msg;
      slot.hidden = false;
    } else {
      if (slot.textContent !== '') slot.textContent = '';
      slot.hidden = true;
    }
  });
  var anyBiasError = false;
  inlineErrors.forEach(function (_, p) { if (/^\/channels\/\d+\/bias_voltage$/.test(p)) anyBiasError = true; });
  document.querySelectorAll('#channels tbody tr').forEach(function (tr) {
    var i = tr.dataset.channel;
    tr.querySelector('input.bias').classList.toggle('invalid', inlineErrors.has('/channels/' + i + '/bias_voltage'));
  });
  $('#acq-rate').classList.toggle('invalid', inlineErrors.has('/acquisition/rate_hz'));
  $('#set-all-value').classList.toggle('invalid', inlineErrors.has('/channels'));
  void anyBiasError;
}


// User input.

function parseNum(str) {
  if (typeof str !== 'string' || str.trim() === '') return NaN;
  return Number(str);
}

function commitBias(input) {
  var tr = input.closest('tr');
  var i = Number(tr.dataset.channel);
  var bp = '/channels/' + i + '/bias_voltage';
  var v = parseNum(input.value);
  var current = view(bp, null);
  if (!isFinite(v)) {
    // not a number: put the model value back
    input.value = numStr(current);
    input.dataset.rendered = input.value;
    return;
  }
  if (v === current && !inlineErrors.has(bp)) return; // nothing to do (Enter followed by change)
  var ov = {}; ov[bp] = v;
  command('set_channel', { channel: i, value: v }, {
    el: input, overlay: ov, clears: [bp, '/channels/' + i]
  });
}

/** Wires the page's controls to their commands. */
export function bind() {
  // Output
  $('#enabled').addEventListener('change', function (e) {
    var on = e.target.checked;
    command('set_enabled', { enabled: on }, { el: e.target, overlay: { '/enabled': on } });
  });

  // Channels (delegated)
  var table = $('#channels');
  table.addEventListener('keydown', function (e) {
    if (e.key === 'Enter' && e.target.matches('input.bias')) { e.preventDefault(); commitBias(e.target); }
    else if (e.key === 'Escape' && e.target.matches('input.bias')) {
      var tr = e.target.closest('tr');
      e.target.value = numStr(view('/channels/' + tr.dataset.channel + '/bias_voltage', null));
      e.target.dataset.rendered = e.target.value;
      e.target.blur();
    }
  });
  table.addEventListener('change', function (e) {
    var t = e.target;
    var tr = t.closest('tr');
    if (!tr) return;
    var i = Number(tr.dataset.channel);
    if (t.matches('input.bias')) commitBias(t);
    else if (t.matches('input.active')) {
      var ap = '/channels/' + i + '/active';
      var ov = {}; ov[ap] = t.checked;
      command('set_active', { channel: i, active: t.checked }, { el: t, overlay: ov, clears: ['/channels/' + i] });
    }
  });
  table.addEventListener('input', function (e) {
    var t = e.target, tr = t.closest('tr');
    if (tr && t.matches('input.bias')) clearInline(['/channels/' + tr.dataset.channel + '/bias_voltage']);
  });
  table.addEventListener('click', function (e) {
    var b = e.target.closest('button.remove');
    if (!b) return;
    var i = Number(b.closest('tr').dataset.channel);
    command('remove_channel', { channel: i }, { el: b, clears: ['/channels/' + i] });
  });

  // Add channel
  var addName = $('#add-channel-name');
  function addChannel() {
    var name = addName.value.trim();
    if (!name) { addName.focus(); return; }
    command('add_channel', { name: name }, {
      el: $('#add-channel'), clears: ['/channels'],
      onAck: function () { if (addName.value.trim() === name) addName.value = ''; }
    });
  }
  $('#add-channel').addEventListener('click', addChannel);
  addName.addEventListener('keydown', function (e) { if (e.key === 'Enter') { e.preventDefault(); addChannel(); } });

  // Set all
  var setAllValue = $('#set-all-value');
  function setAll() {
    var v = parseNum(setAllValue.value);
    if (!isFinite(v)) { setAllValue.focus(); return; }
    command('set_all', { value: v }, { el: $('#set-all'), clears: ['/channels'] });
  }
  $('#set-all').addEventListener('click', setAll);

  // Ramp (a long command: its progress and Stop show in the running list)
  $('#ramp').addEventListener('click', function () {
    var channel = parseInt($('#ramp-channel').value, 10);
    var target = parseNum($('#ramp-target').value);
    var rate = parseNum($('#ramp-rate').value);
    if (!isFinite(target)) { $('#ramp-target').focus(); return; }
    command('ramp_channel', { channel: channel, target: target, rate_v_per_s: rate }, { el: $('#ramp') });
  });
  setAllValue.addEventListener('keydown', function (e) { if (e.key === 'Enter') { e.preventDefault(); setAll(); } });
  setAllValue.addEventListener('input', function () { clearInline(['/channels']); });

  // Labels
  var lk = $('#label-key'), lv = $('#label-value');
  function setLabel() {
    var key = lk.value;
    if (key === '') { lk.focus(); return; }
    var value = lv.value;
    command('set_label', { key: key, value: value }, {
      el: $('#set-label'),
      onAck: function () {
        if (lk.value === key && lv.value === value) { lk.value = ''; lv.value = ''; }
      }
    });
  }
  $('#set-label').addEventListener('click', setLabel);
  // Enter in the key moves on to the value; Enter in the value sets.
  lk.addEventListener('keydown', function (e) { if (e.key === 'Enter') { e.preventDefault(); lv.focus(); } });
  lv.addEventListener('keydown', function (e) { if (e.key === 'Enter') { e.preventDefault(); setLabel(); } });
  $('#labels').addEventListener('click', function (e) {
    var b = e.target.closest('button.remove-label');
    if (!b) return;
    var key = b.closest('[data-key]').dataset.key;
    command('set_label', { key: key, value: null }, { el: b });
  });
  $('#labels').addEventListener('dblclick', function (e) {
    var item = e.target.closest('[data-key]');
    if (!item || e.target.closest('button')) return;
    lk.value = item.dataset.key;
    var replica = state();
    var v = replica && replica.labels ? replica.labels[item.dataset.key] : '';
    lv.value = typeof v === 'string' ? v : '';
    lv.focus();
  });

  // Acquisition
  var rate = $('#acq-rate');
  function start() {
    var v = parseNum(rate.value);
    if (!isFinite(v)) { rate.focus(); return; }
    command('start_acquisition', { rate_hz: v }, { el: $('#acq-start'), clears: ['/acquisition/rate_hz', '/acquisition'] });
  }
  $('#acq-start').addEventListener('click', start);
  rate.addEventListener('keydown', function (e) { if (e.key === 'Enter') { e.preventDefault(); start(); } });
  rate.addEventListener('input', function () { clearInline(['/acquisition/rate_hz']); });
  $('#acq-stop').addEventListener('click', function (e) {
    command('stop_acquisition', {}, { el: e.currentTarget });
  });

  // Diagnostics
  $('#simulate-timeout').addEventListener('click', function (e) {
    command('simulate_timeout', {}, { el: e.currentTarget });
  });
  $('#reset').addEventListener('click', function (e) {
    command('reset', {}, { el: e.currentTarget });
  });

  // Banner
  $('#banner .banner-dismiss').addEventListener('click', function () { $('#banner').hidden = true; });
}
