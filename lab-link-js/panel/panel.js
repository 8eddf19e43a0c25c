// The generated control panel: everything a lab sees of its instrument,
// from `GET {prefix}/schema` alone. `mountPanel` fetches the schema (after
// the login or first-run setup screen when access control is on),
// connects a `LabLinkClient`, and renders the state's cards, a form per
// command and a plot per stream, kept live by the client's subscriptions.

import { AuthError, LabLinkClient } from 'lab-link-js';

import { bindings, cards } from './schema.js';
import { element, renderCard, renderCommand, renderField, renderLeaf, renderStream, Scope } from './view.js';

export { bindings, cards, check, describe, fieldsOf, formatValue, resolve } from './schema.js';
export { draw, extent, plotKind } from './plot.js';
export { renderField, renderLeaf, Scope, PAGE_SIZE } from './view.js';

/**
 * What an overriding card gets: the panel's context (client, schema,
 * bindings, permissions), the card's title and fields, and the scope its
 * subscriptions should join (ended when the panel re-renders).
 *
 * @typedef {object} CardArgs
 * @property {import('./view.js').PanelContext} context
 * @property {import('./view.js').Scope} scope
 * @property {string} title
 * @property {import('./schema.js').Field[]} fields
 */

/**
 * @typedef {object} PanelOptions
 * @property {string} [prefix] the sync prefix; by default the page's
 *   `<meta name="lab-link-prefix">`, else `/sync`
 * @property {string} [url] the server's origin; the page's by default
 * @property {Record<string, (args: CardArgs) => HTMLElement>} [cards]
 *   your own component for the card of that title (a `group`, or a
 *   field's label); the other cards stay generated
 * @property {import('lab-link-js').ClientOptions['WebSocket']} [WebSocket] for tests
 */

/**
 * A mounted panel: its client, and the milliseconds from navigation to
 * its first render of the state (also the performance mark
 * `lab-link-panel:rendered`).
 *
 * @typedef {object} Panel
 * @property {LabLinkClient} client
 * @property {Promise<number>} rendered
 * @property {() => void} close
 */

/**
 * Renders the generated panel into `root` and keeps it live.
 *
 * @example
 * import { mountPanel, renderLeaf } from '/panel/panel.js';
 *
 * mountPanel(document.querySelector('#panel'), {
 *   cards: {
 *     // Replace the "Output" card; the others stay generated.
 *     Output: ({ context, scope, fields }) => {
 *       const card = document.createElement('section');
 *       card.className = 'card';
 *       card.append('My output card');
 *       for (const field of fields) card.append(renderLeaf(context, scope, [field.name], field, false));
 *       return card;
 *     },
 *   },
 * });
 *
 * @param {HTMLElement} root
 * @param {PanelOptions} [options]
 * @returns {Panel}
 */
export function mountPanel(root, options = {}) {
  const meta = document.querySelector('meta[name="lab-link-prefix"]');
  const prefix = options.prefix ?? meta?.getAttribute('content') ?? '/sync';
  const client = new LabLinkClient({ url: options.url, prefix, level: 2, hello: { name: 'generated panel' }, WebSocket: options.WebSocket });
  applyTheme(localStorage.getItem('lab-link-panel-theme'));

  const header = element('header', { class: 'topbar' });
  const title = element('h1', {}, 'lab-link');
  const connection = element('span', { class: 'pill', id: 'connection', role: 'status', 'aria-live': 'polite' }, 'connecting…');
  const version = element('span', { class: 'meta', id: 'version', title: 'replica version' }, 'v —');
  const who = element('span', { class: 'meta', id: 'principal' });
  const logout = element('button', { type: 'button', id: 'logout', hidden: '' }, 'Log out');
  const theme = element('button', { type: 'button', id: 'theme', title: 'dark or light' }, '◐');
  header.append(title, element('span', { class: 'status' }, connection, version, who, logout, theme));
  const notice = element('div', { class: 'notice', role: 'alert', hidden: '' });
  const main = element('main', { class: 'cards' });
  root.replaceChildren(header, notice, main);

  /** @param {string} message */
  const notify = (message) => {
    notice.textContent = message;
    notice.hidden = false;
    setTimeout(() => {
      if (notice.textContent === message) notice.hidden = true;
    }, 8000);
  };
  theme.addEventListener('click', () => {
    const dark = document.documentElement.dataset.theme ? document.documentElement.dataset.theme === 'dark' : matchMedia('(prefers-color-scheme: dark)').matches;
    const next = dark ? 'light' : 'dark';
    localStorage.setItem('lab-link-panel-theme', next);
    applyTheme(next);
  });
  client.on('status', ({ status }) => {
    document.body.dataset.connection = status;
    connection.dataset.state = status;
    connection.textContent = { connecting: 'connecting…', open: 'live', closed: 'disconnected', unauthorized: 'signed out' }[status];
  });
  client.on('snapshot', ({ version: v }) => (version.textContent = `v ${v}`));
  client.on('patch', ({ version: v }) => (version.textContent = `v ${v}`));
  client.on('auth', () => void start());
  logout.addEventListener('click', () => void client.logout().catch((error) => notify(String(error))));

  const scope = new Scope();
  /** @type {(ms: number) => void} */
  let renderedOnce = () => {};
  /** @type {Promise<number>} */
  const rendered = new Promise((resolve) => (renderedOnce = resolve));

  const start = async () => {
    scope.end();
    /** @type {{ capabilities?: string[], label?: string, kind?: string } | null} */
    let principal = null;
    let authOn = false;
    try {
      const status = await client.authStatus();
      authOn = true;
      if (!status.authorized) {
        showLogin(main, client, status.configured, () => void start());
        return;
      }
      principal = /** @type {any} */ (status.principal);
    } catch (error) {
      if (!(error instanceof AuthError && error.status === 404)) {
        main.replaceChildren(element('p', { class: 'failure' }, `Cannot reach the instrument: ${error}`));
        setTimeout(() => void start(), 2000);
        return;
      }
    }
    who.textContent = principal ? `${principal.label ?? ''}` : '';
    logout.hidden = !(principal && principal.kind === 'session');
    const capabilities = new Set(principal?.capabilities ?? []);
    /** @param {string[]} requires */
    const refusal = (requires) => {
      if (!authOn || capabilities.has('*')) return null;
      const missing = requires.filter((capability) => !capabilities.has(capability));
      return missing.length === 0 ? null : `read-only: ${principal?.label ?? 'you'} lacks the ${missing.join(', ')} capability`;
    };
    const schema = await client.schema();
    const state = /** @type {import('./schema.js').SchemaNode} */ (schema.state ?? {});
    const commands = /** @type {Record<string, import('./schema.js').SchemaNode>} */ (schema.commands ?? {});
    title.textContent = typeof state.title === 'string' ? state.title : 'lab-link';
    document.title = `${title.textContent} — lab-link panel`;
    await client.connect();
    /** @type {import('./view.js').PanelContext} */
    const context = { client, root: state, commands, bindingOf: bindings(commands), refusal, container: root, notify };
    document.body.dataset.readOnly = String(refusal(['control']) !== null);
    const parts = [];
    if (refusal(['control'])) parts.push(element('p', { class: 'read-only-banner', id: 'read-only' }, `${refusal(['control'])}: the controls are disabled.`));
    for (const card of cards(state)) {
      const override = options.cards?.[card.title];
      parts.push(override ? override({ context, scope, title: card.title, fields: card.fields }) : renderCard(context, scope, card));
    }
    if (!state.properties) {
      // A state without a published schema: the whole document as JSON.
      parts.push(renderField(context, scope, [], { name: '', label: 'State', kind: 'any', nullable: false, node: {}, order: 0, readOnly: true }));
    }
    const streams = Array.isArray(schema.streams) ? /** @type {import('./schema.js').SchemaNode[]} */ (schema.streams) : [];
    if (streams.length > 0) {
      const card = element('section', { class: 'card wide', 'data-card': 'Streams' }, element('h2', {}, 'Streams'));
      for (const stream of streams) card.append(renderStream(context, scope, stream));
      parts.push(card);
    }
    // A command that edits a field is that field's editor; the others are forms.
    const names = Object.keys(commands)
      .filter((name) => !(Array.isArray(commands[name].edits) && commands[name].edits.length > 0))
      .sort();
    if (names.length > 0) {
      const card = element('section', { class: 'card wide', 'data-card': 'Commands' }, element('h2', {}, 'Commands'));
      const list = element('div', { class: 'commands' });
      for (const name of names) list.append(renderCommand(context, name, commands[name]));
      card.append(list);
      parts.push(card);
    }
    main.replaceChildren(...parts);
    performance.mark('lab-link-panel:rendered');
    renderedOnce(performance.now());
  };
  void start();
  return { client, rendered, close: () => (scope.end(), client.close()) };
}

/**
 * The login screen, or the first-run setup screen (choose the
 * passphrase; the server allows it from the instrument computer only).
 *
 * @param {HTMLElement} main
 * @param {LabLinkClient} client
 * @param {boolean} configured
 * @param {() => void} done
 */
function showLogin(main, client, configured, done) {
  const form = element('form', { class: 'card login', id: 'login' });
  form.append(element('h2', {}, configured ? 'Log in' : 'Choose a passphrase'));
  const passphrase = element('input', { type: 'password', name: 'passphrase', autocomplete: configured ? 'current-password' : 'new-password', 'aria-label': 'passphrase', required: '' });
  const remember = element('input', { type: 'checkbox', name: 'remember' });
  const error = element('p', { class: 'error', role: 'alert' });
  form.append(
    element('label', {}, 'Passphrase ', passphrase),
    element('label', {}, remember, ' remember this device'),
    element('button', { type: 'submit' }, configured ? 'Log in' : 'Set up'),
    error,
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    client.login(passphrase.value, { remember: remember.checked, setup: !configured, deviceName: navigator.userAgent.slice(0, 60) }).then(done, (failure) => {
      error.textContent = failure instanceof Error ? failure.message : String(failure);
    });
  });
  main.replaceChildren(form);
  passphrase.focus();
}

/** @param {string | null} theme `dark`, `light`, or the system's */
function applyTheme(theme) {
  if (theme === 'dark' || theme === 'light') document.documentElement.dataset.theme = theme;
  else delete document.documentElement.dataset.theme;
}
