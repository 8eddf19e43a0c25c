// The page's live data: the streams' figures (trace, count rate,
// histogram) and the history plot of a recorded value (GET
// {prefix}/history), drawn on canvases.

import { httpBase } from './connection.js';
import { jsonEqual } from './lab-link.js';
import { $, view } from './render.js';

/** @type {import('./connection.js').Connection} */
var connection;

/**
 * Starts the plots: drawn now, redrawn on resize and on a change of the
 * colour scheme; the history's choices and points refreshed every two
 * seconds.
 *
 * @param {import('./connection.js').Connection} conn
 */
export function startPlots(conn) {
  connection = conn;
  readColors();
  ['trace-plot', 'counts-plot', 'histogram-plot'].forEach(function (id) {
    var c = document.getElementById(id);
    if (id === 'trace-plot') { c.dataset.frames = '0'; c.dataset.seq = ''; }
    if (id === 'counts-plot') c.dataset.points = '0';
    if (id === 'histogram-plot') c.dataset.total = '0';
  });
  requestDraw();
  window.addEventListener('resize', function () { dirty = { trace: true, counts: true, histogram: true, history: true }; requestDraw(); });
  if (window.matchMedia) {
    var mq = window.matchMedia('(prefers-color-scheme: dark)');
    var redraw = function () { readColors(); dirty = { trace: true, counts: true, histogram: true, history: true }; requestDraw(); };
    if (mq.addEventListener) mq.addEventListener('change', redraw);
  }
  renderHistoryChoices();
  $('#history-path').addEventListener('change', loadHistory);
  $('#history-path').addEventListener('focus', renderHistoryChoices);
  setInterval(function () { renderHistoryChoices(); loadHistory(); }, 2000);
}

function sum(a) { var t = 0; for (var i = 0; i < a.length; i++) t += Number(a[i]) || 0; return t; }

/**
 * Stream `id` changed: its figure's data attributes and caption now, its
 * plot at the next animation frame.
 *
 * @param {string} id
 */
export function streamUpdated(id) {
  var s = connection.client.stream(id);
  if (!s) return;
  if (id === 'trace') {
    var c = $('#trace-plot');
    c.dataset.frames = String(connection.frames.get(id) || 0);
    c.dataset.seq = String(s.seq);
    $('#trace-meta').textContent = s.data.length + ' samples · seq ' + s.seq;
  } else if (id === 'counts') {
    $('#counts-plot').dataset.points = String(s.data.length);
    var last = s.data.length ? s.data[s.data.length - 1] : null;
    $('#counts-meta').textContent = s.data.length + ' pts' + (last !== null ? ' · last ' + fmt(Number(last)) : '');
  } else if (id === 'histogram') {
    var total = sum(s.data);
    $('#histogram-plot').dataset.total = String(total);
    $('#histogram-meta').textContent = s.data.length + ' bins · total ' + total;
  }
  dirty[id] = true;
  requestDraw();
}


// Plots (canvas, one draw per animation frame at most).

var dirty = { trace: true, counts: true, histogram: true, history: true };
var drawQueued = false;
function requestDraw() {
  if (drawQueued) return;
  drawQueued = true;
  requestAnimationFrame(function () {
    drawQueued = false;
    if (dirty.trace) drawLine('#trace-plot', streamData('trace'), false);
    if (dirty.counts) drawLine('#counts-plot', streamData('counts'), true);
    if (dirty.histogram) drawBars('#histogram-plot', streamData('histogram'));
    if (dirty.history) {
      if (history.values.length) drawLine('#history-plot', history.values, true);
      else emptyNote(prepCanvas('#history-plot'), history.note);
    }
    dirty = { trace: false, counts: false, histogram: false, history: false };
  });
}
function streamData(id) {
  var s = connection.client.stream(id);
  return s ? s.data : [];
}

/**
 * Stream `id` as the page holds it, or null: `{seq, frames (replace
 * messages and binary frames since the page loaded), data}`.
 *
 * @param {string} id
 */
export function streamCopy(id) {
  var s = connection.client.stream(id);
  return s ? { seq: s.seq, frames: connection.frames.get(id) || 0, data: Array.prototype.slice.call(s.data) } : null;
}

// History: GET {prefix}/history of the chosen value, decimated by the
// server to at most 400 points (min and max per time bucket), redrawn
// every two seconds.
var history = { path: '', values: [], note: 'choose a value' };
function historyPaths() {
  var paths = [];
  (view('/channels', []) || []).forEach(function (_, i) { paths.push('/channels/' + i + '/bias_voltage'); });
  paths.push('/acquisition/rate_hz');
  return paths;
}
export function renderHistoryChoices() {
  var select = $('#history-path');
  var paths = historyPaths();
  var have = Array.from(select.options).map(function (o) { return o.value; });
  if (jsonEqual(have, paths)) return;
  var chosen = select.value;
  select.innerHTML = '';
  paths.forEach(function (p) {
    var o = document.createElement('option');
    o.value = p; o.textContent = p;
    select.appendChild(o);
  });
  if (paths.indexOf(chosen) >= 0) select.value = chosen;
}
export function loadHistory() {
  var path = $('#history-path').value;
  if (!path) return;
  var url = httpBase() + '/history?format=columns&max_points=400&path=' + encodeURIComponent(path);
  fetch(url, { credentials: 'same-origin' }).then(function (res) {
    return res.json().then(function (body) { return { ok: res.ok, body: body }; });
  }).then(function (r) {
    var canvas = $('#history-plot');
    if (r.ok) {
      history = { path: path, values: r.body.value.map(Number), note: '' };
      $('#history-meta').textContent = r.body.value.length + ' points' + (r.body.decimated ? ' (decimated)' : '');
      canvas.dataset.path = path;
      canvas.dataset.points = String(r.body.value.length);
    } else {
      history = { path: path, values: [], note: (r.body && r.body.message) || 'history unavailable' };
      $('#history-meta').textContent = 'not recorded';
      canvas.dataset.points = '0';
    }
    dirty.history = true; requestDraw();
  }, function () { /* offline: the connection pill says so */ });
}

function fmt(v) {
  if (!isFinite(v)) return String(v);
  var a = Math.abs(v);
  if (a !== 0 && (a >= 1e5 || a < 1e-3)) return v.toExponential(1);
  if (Math.abs(v - Math.round(v)) < 1e-9 * Math.max(1, a)) return String(Math.round(v));
  if (a >= 100) return v.toFixed(0);
  if (a >= 10) return v.toFixed(1);
  return String(Number(v.toPrecision(3)));
}

var colors = {};
export function readColors() {
  var cs = getComputedStyle(document.body);
  ['--plot-line', '--plot-grid', '--plot-text', '--plot-bar', '--plot-fill'].forEach(function (k) {
    colors[k] = cs.getPropertyValue(k).trim() || '#888';
  });
}

function prepCanvas(sel) {
  var c = $(sel);
  var dpr = window.devicePixelRatio || 1;
  var w = Math.max(1, Math.round(c.clientWidth * dpr));
  var h = Math.max(1, Math.round(c.clientHeight * dpr));
  if (c.width !== w || c.height !== h) { c.width = w; c.height = h; }
  var ctx = c.getContext('2d');
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, c.clientWidth, c.clientHeight);
  return { ctx: ctx, w: c.clientWidth, h: c.clientHeight };
}

var PAD = { l: 44, r: 8, t: 8, b: 16 };

// 1, 2, 5 x 10^k step for about `n` intervals over `span`
function niceStep(span, n) {
  var raw = span / n;
  var p = Math.pow(10, Math.floor(Math.log10(raw)));
  var m = raw / p;
  return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
}

function axes(g, lo, hi, xLabelL, xLabelR, step) {
  var ctx = g.ctx, pw = g.w - PAD.l - PAD.r, ph = g.h - PAD.t - PAD.b;
  var nt = Math.max(1, Math.round((hi - lo) / step));
  ctx.font = '10px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace';
  ctx.fillStyle = colors['--plot-text'];
  ctx.strokeStyle = colors['--plot-grid'];
  ctx.lineWidth = 1;
  ctx.textAlign = 'right';
  ctx.textBaseline = 'middle';
  for (var i = 0; i <= nt; i++) {
    var y = Math.round(PAD.t + ph * i / nt) + 0.5;
    ctx.beginPath(); ctx.moveTo(PAD.l, y); ctx.lineTo(PAD.l + pw, y); ctx.stroke();
    ctx.fillText(fmt(hi - (hi - lo) * i / nt), PAD.l - 4, y);
  }
  ctx.textBaseline = 'alphabetic';
  ctx.textAlign = 'left';
  if (xLabelL) ctx.fillText(xLabelL, PAD.l, g.h - 3);
  ctx.textAlign = 'right';
  if (xLabelR) ctx.fillText(xLabelR, PAD.l + pw, g.h - 3);
  return { pw: pw, ph: ph };
}

function range(data) {
  var lo = Infinity, hi = -Infinity;
  for (var i = 0; i < data.length; i++) {
    var v = Number(data[i]);
    if (!isFinite(v)) continue;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (lo === Infinity) { lo = 0; hi = 1; }
  if (hi - lo < 1e-12) { var m = Math.abs(hi) * 0.1 || 1; lo -= m; hi += m; }
  var step = niceStep(hi - lo, 4);
  return [Math.floor(lo / step) * step, Math.ceil(hi / step) * step, step];
}

function emptyNote(g, text) {
  g.ctx.fillStyle = colors['--plot-text'];
  g.ctx.textAlign = 'center';
  g.ctx.textBaseline = 'middle';
  g.ctx.font = '12px system-ui, sans-serif';
  g.ctx.fillText(text, PAD.l + (g.w - PAD.l - PAD.r) / 2, PAD.t + (g.h - PAD.t - PAD.b) / 2);
}

function drawLine(sel, data, overTime) {
  var g = prepCanvas(sel);
  var r = range(data);
  var n = data.length;
  var a = axes(g, r[0], r[1], overTime ? (n ? '−' + n : '') : '0', overTime ? 'now' : (n ? String(n - 1) : ''), r[2]);
  if (n === 0) { emptyNote(g, 'no data yet'); return; }
  var ctx = g.ctx;
  var span = overTime ? Math.max(n - 1, 1) : Math.max(n - 1, 1);
  var x0 = PAD.l;
  ctx.beginPath();
  for (var i = 0; i < n; i++) {
    var x = x0 + a.pw * (n === 1 ? 1 : i / span);
    var y = PAD.t + a.ph * (1 - (Number(data[i]) - r[0]) / (r[1] - r[0]));
    if (i === 0) ctx.moveTo(x, y); else ctx.lineTo(x, y);
  }
  ctx.strokeStyle = colors['--plot-line'];
  ctx.lineWidth = 1.25;
  ctx.lineJoin = 'round';
  ctx.stroke();
}

function drawBars(sel, data) {
  var g = prepCanvas(sel);
  var n = data.length;
  var hi = 0;
  for (var i = 0; i < n; i++) hi = Math.max(hi, Number(data[i]) || 0);
  if (hi <= 0) hi = 4;
  var step = Math.max(1, niceStep(hi, 4));
  hi = Math.ceil(hi / step) * step;
  var a = axes(g, 0, hi, '0', n ? String(n - 1) : '', step);
  if (n === 0) { emptyNote(g, 'no data yet'); return; }
  var ctx = g.ctx;
  var bw = a.pw / n;
  ctx.fillStyle = colors['--plot-bar'];
  for (var j = 0; j < n; j++) {
    var v = Math.max(0, Number(data[j]) || 0);
    var h = a.ph * Math.min(v, hi) / hi;
    ctx.fillRect(PAD.l + j * bw + (bw > 3 ? 0.5 : 0), PAD.t + a.ph - h, Math.max(bw - (bw > 3 ? 1 : 0), 0.5), h);
  }
}
