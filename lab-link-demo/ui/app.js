'use strict';
/* lab-link demo UI: replica over versioned JSON Patch, commands, streams, plots.
 * No dependencies, no build step. See PROTOCOL.md / DEMO.md. */
(function () {

  // ===================================================================
  // JSON Patch (RFC 6902) + JSON Pointer (RFC 6901). Pure: never mutates
  // its input; returns a new document or throws an Error.
  // ===================================================================
  var hasOwn = Object.prototype.hasOwnProperty;

  function setKey(obj, key, value) {
    // defineProperty so that keys like "__proto__" are plain data members
    Object.defineProperty(obj, key, { value: value, writable: true, enumerable: true, configurable: true });
  }

  function clone(v) {
    if (v === null || typeof v !== 'object') return v;
    if (Array.isArray(v)) {
      var a = new Array(v.length);
      for (var i = 0; i < v.length; i++) a[i] = clone(v[i]);
      return a;
    }
    var o = {};
    var keys = Object.keys(v);
    for (var k = 0; k < keys.length; k++) setKey(o, keys[k], clone(v[keys[k]]));
    return o;
  }

  function deepEqual(a, b) {
    if (a === b) return true;
    if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false;
    var aa = Array.isArray(a), ba = Array.isArray(b);
    if (aa !== ba) return false;
    if (aa) {
      if (a.length !== b.length) return false;
      for (var i = 0; i < a.length; i++) if (!deepEqual(a[i], b[i])) return false;
      return true;
    }
    var ka = Object.keys(a), kb = Object.keys(b);
    if (ka.length !== kb.length) return false;
    for (var j = 0; j < ka.length; j++) {
      if (!hasOwn.call(b, ka[j])) return false;
      if (!deepEqual(a[ka[j]], b[ka[j]])) return false;
    }
    return true;
  }

  function patchError(msg) { return new Error('JSON Patch: ' + msg); }

  function parsePointer(p, what) {
    if (typeof p !== 'string') throw patchError("'" + what + "' must be a string");
    if (p === '') return [];
    if (p.charAt(0) !== '/') throw patchError("pointer '" + p + "' must start with '/'");
    var parts = p.substring(1).split('/');
    for (var i = 0; i < parts.length; i++) {
      var t = parts[i];
      if (t.indexOf('~') !== -1) {
        if (/~[^01]|~$/.test(t)) throw patchError("bad escape in pointer '" + p + "'");
        t = t.replace(/~1/g, '/').replace(/~0/g, '~');
      }
      parts[i] = t;
    }
    return parts;
  }

  function escapeToken(t) { return String(t).replace(/~/g, '~0').replace(/\//g, '~1'); }
  function pointer(tokens) {
    var s = '';
    for (var i = 0; i < tokens.length; i++) s += '/' + escapeToken(tokens[i]);
    return s;
  }

  // Strict array index: "0" or no leading zero digits; '-' only if allowed.
  function arrayIndex(tok, len, forAdd) {
    if (tok === '-') {
      if (forAdd) return len;
      throw patchError("'-' does not refer to an existing array element");
    }
    if (!/^(0|[1-9][0-9]*)$/.test(tok)) throw patchError("invalid array index '" + tok + "'");
    var n = Number(tok);
    if (forAdd ? n > len : n >= len) throw patchError('array index ' + tok + ' out of bounds');
    return n;
  }

  function isContainer(v) { return v !== null && typeof v === 'object'; }

  // Value at tokens (must exist).
  function getAt(doc, tokens) {
    var cur = doc;
    for (var i = 0; i < tokens.length; i++) {
      var t = tokens[i];
      if (Array.isArray(cur)) cur = cur[arrayIndex(t, cur.length, false)];
      else if (isContainer(cur)) {
        if (!hasOwn.call(cur, t)) throw patchError("path '" + pointer(tokens.slice(0, i + 1)) + "' does not exist");
        cur = cur[t];
      } else throw patchError("path '" + pointer(tokens.slice(0, i + 1)) + "' does not exist");
    }
    return cur;
  }

  // The following operate in place on a document the caller owns (a clone).
  function addAt(doc, tokens, value) {
    if (tokens.length === 0) return value;
    var parent = getAt(doc, tokens.slice(0, -1));
    var last = tokens[tokens.length - 1];
    if (Array.isArray(parent)) parent.splice(arrayIndex(last, parent.length, true), 0, value);
    else if (isContainer(parent)) setKey(parent, last, value);
    else throw patchError("parent of '" + pointer(tokens) + "' is not a container");
    return doc;
  }

  function removeAt(doc, tokens) {
    if (tokens.length === 0) throw patchError('cannot remove the document root');
    var parent = getAt(doc, tokens.slice(0, -1));
    var last = tokens[tokens.length - 1];
    var old;
    if (Array.isArray(parent)) {
      var i = arrayIndex(last, parent.length, false);
      old = parent[i];
      parent.splice(i, 1);
    } else if (isContainer(parent)) {
      if (!hasOwn.call(parent, last)) throw patchError("path '" + pointer(tokens) + "' does not exist");
      old = parent[last];
      delete parent[last];
    } else throw patchError("path '" + pointer(tokens) + "' does not exist");
    return old;
  }

  function replaceAt(doc, tokens, value) {
    if (tokens.length === 0) return value;
    var parent = getAt(doc, tokens.slice(0, -1));
    var last = tokens[tokens.length - 1];
    if (Array.isArray(parent)) parent[arrayIndex(last, parent.length, false)] = value;
    else if (isContainer(parent)) {
      if (!hasOwn.call(parent, last)) throw patchError("path '" + pointer(tokens) + "' does not exist");
      setKey(parent, last, value);
    } else throw patchError("path '" + pointer(tokens) + "' does not exist");
    return doc;
  }

  function requireMember(op, name) {
    if (!hasOwn.call(op, name)) throw patchError("operation '" + op.op + "' is missing '" + name + "'");
  }

  function applyOp(doc, op) {
    if (!isContainer(op) || Array.isArray(op)) throw patchError('operation must be an object');
    if (typeof op.op !== 'string') throw patchError("operation is missing 'op'");
    requireMember(op, 'path');
    var path = parsePointer(op.path, 'path');
    var from, v;
    switch (op.op) {
      case 'add':
        requireMember(op, 'value');
        return addAt(doc, path, clone(op.value));
      case 'remove':
        removeAt(doc, path);
        return doc;
      case 'replace':
        requireMember(op, 'value');
        return replaceAt(doc, path, clone(op.value));
      case 'move':
        requireMember(op, 'from');
        from = parsePointer(op.from, 'from');
        if (op.from === op.path) { getAt(doc, from); return doc; }
        if (op.path.length > op.from.length && op.path.indexOf(op.from + '/') === 0)
          throw patchError("cannot move '" + op.from + "' into its own child '" + op.path + "'");
        if (from.length === 0) throw patchError('cannot move the document root');
        v = removeAt(doc, from);
        return addAt(doc, path, v);
      case 'copy':
        requireMember(op, 'from');
        from = parsePointer(op.from, 'from');
        v = clone(getAt(doc, from));
        return addAt(doc, path, v);
      case 'test':
        requireMember(op, 'value');
        if (!deepEqual(getAt(doc, path), op.value))
          throw patchError("test failed at '" + op.path + "'");
        return doc;
      default:
        throw patchError("unknown op '" + op.op + "'");
    }
  }

  function applyPatch(doc, ops) {
    if (!Array.isArray(ops)) throw patchError('patch must be an array');
    var out = clone(doc);
    for (var i = 0; i < ops.length; i++) out = applyOp(out, ops[i]);
    return out;
  }

  var jsonPatch = { apply: applyPatch };

  // Node (for offline conformance runs): export and stop here.
  if (typeof window === 'undefined') {
    if (typeof module !== 'undefined') module.exports = { patch: jsonPatch, deepEqual: deepEqual, pointer: pointer };
    return;
  }

  // ===================================================================
  // Connection + replica
  // ===================================================================
  var replica = null;
  var version = null;
  var clientId = null;
  var level1 = false;
  var awaitingSnapshot = true;  // ignore patches until the next snapshot
  var ws = null;
  var backoff = 250;
  var reconnectTimer = null;
  var reconnectAt = 0;
  var countdownTimer = null;
  var needsAuthCheck = false;  // the last socket never opened: ask /auth/status first
  var nextReq = 1;
  var requests = new Map();   // requestId -> {command, params, el, field, clears}
  var overlays = new Map();   // pointer -> {value, requestId}
  var inlineErrors = new Map(); // slot pointer -> message

  function syncBase() {
    var q = new URLSearchParams(location.search).get('sync');
    if (q) {
      return q.replace(/\/+$/, '').replace(/^http:/i, 'ws:').replace(/^https:/i, 'wss:');
    }
    var meta = document.querySelector('meta[name="lab-link-prefix"]');
    var prefix = meta ? meta.getAttribute('content') : '';
    if (!prefix || prefix === '{{' + 'PREFIX}}') prefix = '/sync';
    if (prefix.charAt(0) !== '/') prefix = '/' + prefix;
    prefix = prefix.replace(/\/+$/, '');
    return (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + prefix;
  }

  function setConnection(stateName, text) {
    document.body.dataset.connection = stateName;
    var pill = $('#conn');
    pill.textContent = text;
    pill.dataset.state = stateName;
  }

  function connect() {
    clearTimeout(reconnectTimer); reconnectTimer = null;
    clearInterval(countdownTimer); countdownTimer = null;
    setConnection('connecting', 'connecting…');
    // Level 2 (progress, running commands, Stop) unless the server turned
    // out to be a level-1 one.
    var url = syncBase() + '/ws' + (level1 ? '' : '?level=2');
    if (!level1 && clientId !== null && version !== null && replica !== null) url += '&since=' + version;
    var sock;
    try { sock = new WebSocket(url); } catch (e) { console.error('lab-link: cannot connect', e); scheduleReconnect(); return; }
    sock.binaryType = 'arraybuffer';
    ws = sock;
    awaitingSnapshot = true;
    var opened = false;
    sock.onopen = function () { opened = true; if (ws === sock) setConnection('connecting', 'syncing…'); };
    sock.onmessage = function (ev) { if (ws === sock) onMessage(ev.data); };
    sock.onerror = function () { /* close follows */ };
    sock.onclose = function (ev) {
      if (ws !== sock) return;
      ws = null;
      failAllPending('Connection lost (' + ev.code + ')');
      running.clear(); renderRunning();
      if (ev.code === 4401) { authLost(); return; }
      // A handshake the server refused (e.g. 403 without a credential)
      // looks like any failed connection: ask /auth/status before retrying.
      if (!opened) needsAuthCheck = true;
      scheduleReconnect();
    };
  }

  function scheduleReconnect() {
    var delay = backoff;
    backoff = Math.min(backoff * 2, 5000);
    reconnectAt = Date.now() + delay;
    var tick = function () {
      var s = Math.max(0, Math.ceil((reconnectAt - Date.now()) / 1000));
      setConnection('closed', 'disconnected · reconnecting in ' + s + 's');
    };
    tick();
    clearInterval(countdownTimer);
    countdownTimer = setInterval(tick, 250);
    reconnectTimer = setTimeout(reconnectNow, delay);
  }

  function reconnectNow() {
    reconnectTimer = null;
    if (needsAuthCheck) { needsAuthCheck = false; checkAuth({}); }
    else connect();
  }

  function stopReconnecting() {
    clearTimeout(reconnectTimer); reconnectTimer = null;
    clearInterval(countdownTimer); countdownTimer = null;
  }

  function forceReconnect() {
    if (ws) { var s = ws; ws = null; try { s.close(); } catch (e) { /* ignore */ } }
    failAllPending('Resynchronising');
    scheduleReconnect();
  }

  function send(obj) {
    if (!ws || ws.readyState !== WebSocket.OPEN) return false;
    ws.send(JSON.stringify(obj));
    return true;
  }

  var resyncs = 0;  // how many times the replica was given up (tests read it)

  function requestResync(reason) {
    resyncs += 1;
    console.warn('lab-link: resync (' + reason + ')');
    awaitingSnapshot = true;
    if (level1) forceReconnect();
    else send({ type: 'resync' });
  }

  function onMessage(data) {
    if (data instanceof ArrayBuffer) { onBinary(data); return; }
    var msg;
    try { msg = JSON.parse(data); } catch (e) { console.error('lab-link: bad JSON from server', e); return; }
    if (!msg || typeof msg !== 'object') return;
    switch (msg.type) {
      case 'snapshot': onSnapshot(msg); break;
      case 'resume': onResume(msg); break;
      case 'patch': onPatch(msg); break;
      case 'command_ack': onAck(msg); break;
      case 'command_error': onCommandError(msg); break;
      case 'stream_snapshot': onStreamSnapshot(msg); break;
      case 'stream_append': onStreamAppend(msg); break;
      case 'stream_replace': onStreamReplace(msg.id, msg.data, msg.seq); break;
      case 'stream_delta': onStreamDelta(msg); break;
      case 'running_commands':
        running.clear();
        (msg.commands || []).forEach(function (c) { running.set(c.id, c); });
        renderRunning();
        break;
      case 'running_started': running.set(msg.id, msg); renderRunning(); break;
      case 'running_progress': {
        var entry = running.get(msg.id);
        if (entry) { entry.progress = msg.progress; renderRunning(); }
        break;
      }
      case 'running_finished': running.delete(msg.id); renderRunning(); break;
      // Our own commands' progress shows through the running list.
      case 'command_progress': break;
      case 'error':
        console.error('lab-link: server error', msg);
        toast({ code: msg.code || 'error', message: msg.message || 'Server error', severity: 'warning' });
        break;
      default:
        console.debug('lab-link: ignoring message', msg.type);
    }
  }

  function connected() {
    backoff = 250;
    clearInterval(countdownTimer); countdownTimer = null;
    setConnection('open', 'connected');
  }

  function onSnapshot(msg) {
    replica = msg.data;
    version = msg.version;
    if (typeof msg.clientId === 'string') { clientId = msg.clientId; level1 = false; }
    else { clientId = null; level1 = true; }
    awaitingSnapshot = false;
    connected();
    scheduleRender(true);
  }

  function onResume(msg) {
    if (replica === null || msg.version !== version) {
      awaitingSnapshot = true;
      send({ type: 'resync' });
      return;
    }
    awaitingSnapshot = false;
    connected();
    scheduleRender(true);
  }

  function onPatch(msg) {
    if (awaitingSnapshot || replica === null) return;
    if (typeof msg.version !== 'number') return;
    if (msg.version <= version) return;
    if (msg.version !== version + 1) { requestResync('gap: at ' + version + ', got ' + msg.version); return; }
    try {
      replica = applyPatch(replica, msg.patch);
    } catch (e) {
      console.error('lab-link: patch failed', e, msg);
      requestResync('patch failed');
      return;
    }
    version = msg.version;
    renderCounters();
    if (clientId !== null && msg.originClientId === clientId && msg.requestId && requests.has(msg.requestId)) {
      // our own echo: the replica now holds the server's value for this edit
      dropOverlaysOf(msg.requestId);
      scheduleRender(true);
      return;
    }
    scheduleRender(!!msg.requestId);
  }

  // ===================================================================
  // Access control (AUTH.md): /auth/status, first-run setup, login,
  // invitation links, logout. A server without access control answers
  // 404 to /auth/status, and the page behaves as it always did.
  // ===================================================================
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

  function httpBase() {
    return syncBase().replace(/^ws:/i, 'http:').replace(/^wss:/i, 'https:');
  }

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
    stopReconnecting();
    setConnection('connecting', 'connecting…');
    var retry = function () { if (opts.ended) scheduleReconnect(); else connect(); };
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

  function authLost() { checkAuth({ ended: true }); }

  function setInert(on) {
    ['.topbar', '#banner', 'main.layout'].forEach(function (sel) {
      var el = $(sel);
      if (!el) return;
      if (on) el.setAttribute('inert', ''); else el.removeAttribute('inert');
    });
  }

  function showAuthScreen(mode, message, info) {
    stopReconnecting();
    if (ws) { var s = ws; ws = null; try { s.close(); } catch (e) { /* ignore */ } }
    failAllPending('Logged out');
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
    setConnection('closed', setup ? 'setup required' : 'login required');
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
      connect();
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
    backoff = 250;
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
    setConnection('connecting', 'accepting the invitation…');
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

  // ===================================================================
  // Commands
  // ===================================================================
  // The commands running on the server (level 2), by their id.
  var running = new Map();

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
        if (clientId !== null && entry.clientId === clientId && entry.requestId != null) {
          var stop = document.createElement('button');
          stop.type = 'button';
          stop.className = 'btn stop';
          stop.textContent = 'Stop';
          stop.addEventListener('click', function () {
            send({ type: 'cancel', requestId: entry.requestId });
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

  function command(name, params, opts) {
    opts = opts || {};
    var requestId = 'r' + (nextReq++);
    var ok = send({ type: 'command', command: name, params: params || {}, requestId: requestId });
    if (!ok) {
      toast({ code: 'not_connected', message: 'Not connected: "' + name + '" was not sent.', severity: 'warning' });
      scheduleRender(true);
      return null;
    }
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

  function dropOverlaysOf(requestId) {
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

  function failAllPending(reason) {
    if (requests.size === 0) return;
    var n = requests.size;
    Array.from(requests.keys()).forEach(finish);
    overlays.clear();
    console.warn('lab-link: ' + n + ' pending command(s) dropped: ' + reason);
    scheduleRender(true);
  }

  function onAck(msg) {
    var req = finish(msg.requestId);
    if (req) {
      req.clears.forEach(function (p) { inlineErrors.delete(p); });
      if (req.onAck) { try { req.onAck(msg.result); } catch (e) { console.error(e); } }
    }
    scheduleRender(true);
  }

  function onCommandError(msg) {
    finish(msg.requestId);
    if (clientId !== null && msg.originClientId && msg.originClientId !== clientId) {
      // someone else's error (should not normally reach us); log only
      console.info('lab-link: command_error of another client', msg);
      return;
    }
    showError(msg);
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
    try { tokens = parsePointer(path, 'path'); } catch (e) { return null; }
    while (tokens.length > 0) {
      var p = pointer(tokens);
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

  // ===================================================================
  // Toasts + banner
  // ===================================================================
  function toast(err) {
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

  // ===================================================================
  // Rendering (replica + pending overlays)
  // ===================================================================
  function $(sel) { return document.querySelector(sel); }
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
  function scheduleRender(urgent) {
    if (renderQueued && !(urgent && renderTimer !== null)) return;
    renderQueued = true;
    var wait = urgent ? 0 : lastRender + 25 - Date.now();
    if (wait <= 0) {
      clearTimeout(renderTimer); renderTimer = null;
      Promise.resolve().then(function () { if (renderQueued) runRender(); });
    } else renderTimer = setTimeout(runRender, wait);
  }

  function view(path, fallback) {
    var o = overlays.get(path);
    if (o) return o.value;
    if (replica === null) return fallback;
    try { return getAt(replica, parsePointer(path)); } catch (e) { return fallback; }
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
  function renderCounters() {
    var v = version === null ? '0' : String(version);
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

  function render() {
    renderCounters();
    $('#client-id').textContent = clientId ? clientId.slice(0, 8) : (level1 ? 'level 1' : '—');
    $('#client-id').title = clientId || '';
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

    renderChannels();
    renderLabels();

    // acquisition
    var acq = replica.acquisition || {};
    var running = !!acq.running;
    $('#acq-state').dataset.running = running ? 'true' : 'false';
    setInputValue($('#acq-rate'), numStr(acq.rate_hz));
    $('#acq-rate-now').textContent = typeof acq.rate_hz === 'number' ? acq.rate_hz + ' Hz' : '';

    renderErrorSlots();
  }

  function renderChannels() {
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

  function labelsEqual(a, b) { return deepEqual(a, b); }
  var renderedLabels = null;
  function renderLabels() {
    var labels = (replica.labels && typeof replica.labels === 'object') ? replica.labels : {};
    if (renderedLabels !== null && labelsEqual(renderedLabels, labels)) return;
    renderedLabels = clone(labels);
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

  // ===================================================================
  // User input
  // ===================================================================
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

  function bind() {
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

  // ===================================================================
  // Streams
  // ===================================================================
  var APPEND_CAP = 1000;
  var streams = {};  // id -> {seq, data, resyncing}
  function stream(id) {
    if (!streams[id]) streams[id] = { seq: null, data: [], resyncing: false, frames: 0 };
    return streams[id];
  }

  function onStreamSnapshot(msg) {
    var s = stream(msg.id);
    var data = Array.isArray(msg.data) ? msg.data.slice() : [];
    if (msg.id === 'counts' && data.length > APPEND_CAP) data = data.slice(data.length - APPEND_CAP);
    s.data = data;
    s.seq = msg.seq;
    s.resyncing = false;
    streamUpdated(msg.id);
  }

  function onStreamAppend(msg) {
    var s = stream(msg.id);
    if (s.resyncing) return;
    if (s.seq !== null && msg.seq !== s.seq + 1) { streamResync(msg.id, s); return; }
    var add = Array.isArray(msg.data) ? msg.data : [msg.data];
    for (var i = 0; i < add.length; i++) s.data.push(add[i]);
    if (s.data.length > APPEND_CAP) s.data.splice(0, s.data.length - APPEND_CAP);
    s.seq = msg.seq;
    streamUpdated(msg.id);
  }

  function onStreamDelta(msg) {
    var s = stream(msg.id);
    if (s.resyncing) return;
    if (s.seq !== null && msg.seq !== s.seq + 1) { streamResync(msg.id, s); return; }
    var d = Array.isArray(msg.deltas) ? msg.deltas : [];
    for (var i = 0; i < d.length; i++) {
      var bin = d[i][0], delta = d[i][1];
      while (s.data.length <= bin) s.data.push(0);
      s.data[bin] = (s.data[bin] || 0) + delta;
    }
    s.seq = msg.seq;
    streamUpdated(msg.id);
  }

  function onStreamReplace(id, data, seq) {
    var s = stream(id);
    s.data = data;
    s.seq = seq;
    s.frames++;
    streamUpdated(id);
  }

  function streamResync(id, s) {
    s.resyncing = true;
    console.warn('lab-link: stream ' + id + ' gap, resyncing');
    send({ type: 'stream_resync', id: id });
  }

  var utf8 = new TextDecoder('utf-8');
  function onBinary(buf) {
    if (buf.byteLength < 7) return;
    var dv = new DataView(buf);
    var tag = dv.getUint8(0);
    if (tag !== 1 && tag !== 2) { console.warn('lab-link: unknown binary tag', tag); return; }
    var L = dv.getUint16(1, true);
    if (3 + L + 4 > buf.byteLength) return;
    var id = utf8.decode(new Uint8Array(buf, 3, L));
    var seq = dv.getUint32(3 + L, true);
    var off = 7 + L;
    var size = tag === 1 ? 4 : 8;
    var n = Math.floor((buf.byteLength - off) / size);
    var out = new Float64Array(n);
    for (var i = 0; i < n; i++) out[i] = tag === 1 ? dv.getFloat32(off + i * size, true) : dv.getFloat64(off + i * size, true);
    onStreamReplace(id, out, seq);
  }

  function sum(a) { var t = 0; for (var i = 0; i < a.length; i++) t += Number(a[i]) || 0; return t; }

  function streamUpdated(id) {
    var s = streams[id];
    if (id === 'trace') {
      var c = $('#trace-plot');
      c.dataset.frames = String(s.frames);
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

  // ===================================================================
  // Plots (canvas, one draw per animation frame at most)
  // ===================================================================
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
  function streamData(id) { return streams[id] ? streams[id].data : []; }

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
  function renderHistoryChoices() {
    var select = $('#history-path');
    var paths = historyPaths();
    var have = Array.from(select.options).map(function (o) { return o.value; });
    if (deepEqual(have, paths)) return;
    var chosen = select.value;
    select.innerHTML = '';
    paths.forEach(function (p) {
      var o = document.createElement('option');
      o.value = p; o.textContent = p;
      select.appendChild(o);
    });
    if (paths.indexOf(chosen) >= 0) select.value = chosen;
  }
  function loadHistory() {
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
  function readColors() {
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

  // ===================================================================
  // Boot
  // ===================================================================
  window.labLink = {
    get state() { return replica; },
    get version() { return version; },
    get clientId() { return clientId; },
    get connected() { return document.body.dataset.connection === 'open'; },
    get resyncs() { return resyncs; },
    // {enabled: null | false | true, principal}: what /auth/status said
    get auth() { return { enabled: auth.enabled, principal: auth.principal }; },
    patch: jsonPatch,
    command: command,
    // Hands `text` (or an ArrayBuffer, a binary frame) to the message
    // handler as if the server had sent it: how the tests feed the page a
    // version gap.
    receive: function (text) { onMessage(text); },
    // A copy of stream `id` as the page holds it, or null: {seq, frames
    // (replace messages and binary frames since the page loaded), data}.
    stream: function (id) {
      var s = streams[id];
      return s ? { seq: s.seq, frames: s.frames, data: Array.prototype.slice.call(s.data) } : null;
    }
  };

  function boot() {
    readColors();
    bind();
    render();
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
    bindAuth();
    authBoot();
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', boot);
  else boot();
})();
