// Access control (AUTH.md): /auth/status, first-run setup, login,
// invitation links, logout. A server without access control answers 404
// to /auth/status, and the page connects as it always did.

import { httpBase } from './connection.js';
import { $, toast } from './render.js';

/** @type {import('./connection.js').Connection} */
var connection;

/**
 * Wires the login screen and the header's Log out to `conn`, then asks
 * /auth/status (taking an invitation in the address first) and connects
 * or shows the screen.
 *
 * @param {import('./connection.js').Connection} conn
 */
export function startAuth(conn) {
  connection = conn;
  bindAuth();
  authBoot();
}

/** What /auth/status said: `{enabled: null | false | true, principal}`. */
export function authState() {
  return { enabled: auth.enabled, principal: auth.principal };
}

/**
 * The credential was refused or ended (the client's `auth` event): ask
 * /auth/status again, which shows the login screen.
 *
 * @param {{ reason: string }} event
 */
export function authLost(event) {
  checkAuth({ ended: event.reason === 'expired' });
}

var MIN_PASSPHRASE = 12;
var SESSION_ENDED = 'Your session ended. Log in again.';
var DEVICE_KEY = 'lab-link-demo.device-name';
var KIND_TEXT = { local: 'local', session: 'session', api_token: 'API token' };
var auth = {
  enabled: null,     // null: not known yet; false: no access control (404); true: on
  principal: null,   // `principal` of /auth/status while authorized
  busy: false,       // a setup / login / invite request is in flight
  seq: 0,            // status checks: only the latest answer counts
  retryTimer: null   // rate-limit countdown
};

// {status, body (parsed JSON or null), headers}; rejects when unreachable.
function authFetch(method, path, body) {
  var init = { method: method, credentials: 'same-origin', cache: 'no-store', headers: { Accept: 'application/json' } };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  return fetch(httpBase() + path, init).then(function (res) {
    return res.text().then(function (text) {
      var json = null;
      try { json = text ? JSON.parse(text) : null; } catch (e) { json = null; }
      return { status: res.status, body: json, headers: res.headers };
    });
  });
}

// Asks /auth/status, then connects, or shows the setup / login screen.
// opts.ended: the server closed the socket with 4401.
// opts.message: a note for the screen, if it shows (opts.error: an error).
function checkAuth(opts) {
  opts = opts || {};
  var seq = ++auth.seq;
  connection.setPill('connecting', 'connecting…');
  var retry = function () { connection.start(); };
  authFetch('GET', '/auth/status').then(function (r) {
    if (seq !== auth.seq) return;
    var b = r.body;
    if (r.status === 200 && b && typeof b === 'object' && typeof b.authorized === 'boolean') {
      auth.enabled = true;
      var hadPrincipal = auth.principal !== null;
      if (b.authorized) {
        auth.principal = b.principal && typeof b.principal === 'object' ? b.principal : null;
        renderAuthUser();
        hideAuthScreen();
        retry();
        return;
      }
      auth.principal = null;
      renderAuthUser();
      if (b.configured === false) showAuthScreen('setup', opts.message || '', !opts.error);
      else if (opts.message) showAuthScreen('login', opts.message, !opts.error);
      else showAuthScreen('login', opts.ended || hadPrincipal ? SESSION_ENDED : '', true);
      return;
    }
    if (r.status === 404) {
      // no access control here: connect as always
      auth.enabled = false;
      auth.principal = null;
      renderAuthUser();
      hideAuthScreen();
    }
    retry();
  }, function () {
    if (seq !== auth.seq) return;
    // Unreachable (the server is down, or a sync server on another
    // origin without CORS): try the socket, as before.
    retry();
  });
}

function setInert(on) {
  ['.topbar', '#banner', 'main.layout'].forEach(function (sel) {
    var el = $(sel);
    if (!el) return;
    if (on) el.setAttribute('inert', ''); else el.removeAttribute('inert');
  });
}

function showAuthScreen(mode, message, info) {
  connection.stop();
  clearRateLimit();
  var screen = $('#auth-screen');
  var setup = mode === 'setup';
  var pass = $('#auth-passphrase'), confirmEl = $('#auth-confirm');
  screen.dataset.mode = setup ? 'setup' : 'login';
  $('#auth-title').textContent = setup ? 'Set up access' : 'Log in';
  $('#auth-intro').textContent = setup
    ? 'No passphrase is set yet. Choose the one that protects this instrument: anyone who knows it can connect and control it.'
    : 'This instrument is protected. Enter its passphrase to connect.';
  pass.setAttribute('autocomplete', setup ? 'new-password' : 'current-password');
  pass.value = '';
  confirmEl.value = '';
  $('#auth-passphrase-hint').hidden = !setup;
  $('#auth-confirm-field').hidden = !setup;
  confirmEl.disabled = !setup;
  $('#auth-submit').textContent = setup ? 'Set passphrase and connect' : 'Log in';
  var device = $('#auth-device');
  if (!device.value) device.value = storedDevice();
  setAuthBusy(false);
  authError(message || '', { info: info });
  screen.hidden = false;
  setInert(true);
  connection.setPill('closed', setup ? 'setup required' : 'login required');
  pass.focus();
}

function hideAuthScreen() {
  var screen = $('#auth-screen');
  clearRateLimit();
  if (screen.hidden) return;
  screen.hidden = true;
  $('#auth-passphrase').value = '';
  $('#auth-confirm').value = '';
  authError('');
  setInert(false);
}

// The last error (or, with opts.info, a note) under the fields.
function authError(message, opts) {
  opts = opts || {};
  var el = $('#auth-error');
  el.textContent = message;
  el.hidden = !message;
  el.classList.toggle('is-info', !!(message && opts.info));
  ['#auth-passphrase', '#auth-confirm'].forEach(function (sel) {
    var f = $(sel);
    if (message && !opts.info && opts.field === f) f.setAttribute('aria-invalid', 'true');
    else f.removeAttribute('aria-invalid');
  });
  if (opts.field) { opts.field.focus(); opts.field.select(); }
}

function setAuthBusy(busy) {
  auth.busy = busy;
  var b = $('#auth-submit');
  b.disabled = busy || auth.retryTimer !== null;
  b.classList.toggle('pending', busy);
  b.setAttribute('aria-busy', busy ? 'true' : 'false');
}

function storedDevice() {
  try { return localStorage.getItem(DEVICE_KEY) || ''; } catch (e) { return ''; }
}
function storeDevice(name) {
  try { if (name) localStorage.setItem(DEVICE_KEY, name); else localStorage.removeItem(DEVICE_KEY); } catch (e) { /* ignore */ }
}

// "passphrase must contain…" -> "Passphrase must contain….".
function sentence(s) {
  if (typeof s !== 'string' || !s.trim()) return '';
  s = s.trim();
  s = s.charAt(0).toUpperCase() + s.slice(1);
  return /[.!?]$/.test(s) ? s : s + '.';
}

function submitAuth() {
  if (auth.busy || auth.retryTimer !== null) return;
  var setup = $('#auth-screen').dataset.mode === 'setup';
  var pass = $('#auth-passphrase'), confirmEl = $('#auth-confirm');
  var passphrase = pass.value;
  if (setup) {
    if (Array.from(passphrase).length < MIN_PASSPHRASE) {
      authError('The passphrase must have at least ' + MIN_PASSPHRASE + ' characters.', { field: pass });
      return;
    }
    if (confirmEl.value !== passphrase) {
      authError('The two passphrases are not the same.', { field: confirmEl });
      return;
    }
  } else if (passphrase === '') {
    authError('Enter the passphrase.', { field: pass });
    return;
  }
  var device = $('#auth-device').value.trim();
  storeDevice(device);
  var what = setup ? 'setup' : 'login';
  setAuthBusy(true);
  authFetch('POST', '/auth/' + what, {
    passphrase: passphrase,
    remember: $('#auth-remember').checked,
    deviceName: device
  }).then(function (r) {
    setAuthBusy(false);
    onAuthAnswer(r, what);
  }, function () {
    setAuthBusy(false);
    authError('Cannot reach the instrument. Check the connection and try again.');
  });
}

function onAuthAnswer(r, what) {
  var pass = $('#auth-passphrase');
  var code = r.body && typeof r.body === 'object' ? r.body.error : null;
  if (r.status === 200) { authSucceeded(); return; }
  if (r.status === 404) {
    // the server has no access control (any more)
    auth.enabled = false;
    hideAuthScreen();
    connection.start();
    return;
  }
  switch (code) {
    case 'invalid_credentials':
      authError('Wrong passphrase. Try again.', { field: pass });
      break;
    case 'rate_limited':
      rateLimited(r.headers.get('Retry-After'));
      break;
    case 'setup_required':
      showAuthScreen('setup', 'No passphrase is set yet: choose one to set up access.', true);
      break;
    case 'already_configured':
      showAuthScreen('login', 'Access is already set up. Log in with the passphrase.', true);
      break;
    case 'local_setup_required':
      authError('Setup must be done on the instrument computer itself.');
      break;
    case 'weak_passphrase':
      authError(sentence(r.body.message) || 'The passphrase must have at least ' + MIN_PASSPHRASE + ' characters.', { field: pass });
      break;
    case 'origin_not_allowed':
      authError('The instrument does not accept logins from this page\u2019s address (' + location.origin + ').');
      break;
    default:
      authError((what === 'setup' ? 'Setup' : 'Login') + ' failed (HTTP ' + r.status + (code ? ', ' + code : '') + ').');
  }
}

function authSucceeded() {
  hideAuthScreen();
  checkAuth({});  // reads who we are, then connects
}

function clearRateLimit() {
  if (auth.retryTimer === null) return;
  clearInterval(auth.retryTimer);
  auth.retryTimer = null;
  $('#auth-submit').disabled = auth.busy;
}

function rateLimited(header) {
  clearRateLimit();
  var secs = parseInt(header, 10);
  if (!(secs > 0)) { authError('Too many attempts. Wait a moment, then try again.'); return; }
  var until = Date.now() + secs * 1000;
  var tick = function () {
    var left = Math.ceil((until - Date.now()) / 1000);
    if (left <= 0) {
      clearRateLimit();
      authError('You can try again now.', { info: true, field: $('#auth-passphrase') });
      return;
    }
    authError('Too many attempts. Try again in ' + left + (left === 1 ? ' second.' : ' seconds.'));
  };
  auth.retryTimer = setInterval(tick, 1000);
  $('#auth-submit').disabled = true;
  tick();
}

// ?invite=TOKEN or #invite=TOKEN: taken out of the address at once.
function takeInvite() {
  var url;
  try { url = new URL(location.href); } catch (e) { return null; }
  var token = null;
  if (url.searchParams.has('invite')) {
    token = url.searchParams.get('invite');
    url.searchParams.delete('invite');
  }
  var hash = url.hash.replace(/^#/, '');
  if (hash) {
    var hp = new URLSearchParams(hash);
    if (hp.has('invite')) {
      if (!token) token = hp.get('invite');
      hp.delete('invite');
      var rest = hp.toString();
      url.hash = rest ? '#' + rest : '';
    }
  }
  if (token === null) return null;
  try { history.replaceState(history.state, '', url.toString()); } catch (e) { /* ignore */ }
  return token;
}

function authBoot() {
  var token = takeInvite();
  if (!token) { checkAuth({}); return; }
  connection.setPill('connecting', 'accepting the invitation…');
  auth.busy = true;
  authFetch('POST', '/auth/invite', { invite: token, deviceName: storedDevice() }).then(function (r) {
    auth.busy = false;
    var code = r.body && typeof r.body === 'object' ? r.body.error : null;
    var message = '';
    if (r.status === 200 || r.status === 404) message = '';
    else if (code === 'invalid_or_expired_invite') message = 'This invitation link is invalid, expired or already used. Log in with the passphrase, or ask for a new link.';
    else if (code === 'origin_not_allowed') message = 'The instrument does not accept this page\u2019s address (' + location.origin + ').';
    else message = 'The invitation could not be used (HTTP ' + r.status + (code ? ', ' + code : '') + ').';
    checkAuth({ message: message, error: true });
  }, function () {
    auth.busy = false;
    checkAuth({ message: 'The invitation could not be sent: the instrument is unreachable.', error: true });
  });
}

function logout() {
  var btn = $('#auth-logout');
  btn.disabled = true;
  authFetch('POST', '/auth/logout').then(function (r) {
    btn.disabled = false;
    if (r.status !== 200) {
      var code = r.body && typeof r.body === 'object' ? r.body.error : null;
      toast({ code: code || 'logout_failed', message: 'Logging out failed (HTTP ' + r.status + ').', severity: 'warning' });
      return;
    }
    auth.principal = null;
    auth.seq++;  // an older status answer must not reconnect us
    renderAuthUser();
    showAuthScreen('login', '');
  }, function () {
    btn.disabled = false;
    toast({ code: 'logout_failed', message: 'Cannot reach the instrument to log out.', severity: 'warning' });
  });
}

// Header: who we are (label + kind), and Log out for a browser session.
function renderAuthUser() {
  var p = auth.enabled ? auth.principal : null;
  var info = $('#auth-info'), user = $('#auth-user'), kind = $('#auth-kind'), out = $('#auth-logout');
  info.hidden = !p;
  user.hidden = !p;
  if (!p) {
    user.textContent = '';
    kind.textContent = '';
    delete info.dataset.kind;
    out.hidden = true;
    return;
  }
  var label = String(p.label || p.id || '');
  var kindText = KIND_TEXT[p.kind] || String(p.kind || '');
  user.textContent = label;
  user.title = 'Signed in as ' + label + (kindText ? ' (' + kindText + ')' : '');
  kind.textContent = kindText;
  info.dataset.kind = String(p.kind || '');
  // A local (trusted loopback) principal has no session to end.
  out.hidden = p.kind !== 'session';
}

function bindAuth() {
  $('#auth-form').addEventListener('submit', function (e) {
    e.preventDefault();
    submitAuth();
  });
  $('#auth-logout').addEventListener('click', logout);
  ['#auth-passphrase', '#auth-confirm'].forEach(function (sel) {
    $(sel).addEventListener('input', function (e) {
      if (e.target.getAttribute('aria-invalid') === 'true') e.target.removeAttribute('aria-invalid');
    });
  });
}
