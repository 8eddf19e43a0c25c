// The panel's components: a card of fields, a field (shown, or edited
// through its `edits` command), a struct as a section, a list of structs
// as a paged table, a map as a key/value list, a command as a form, a
// stream as a plot. Each keeps itself current with `client.subscribe`.

import { CommandError } from 'lab-link-js';

import { check, describe, fieldsOf, formatValue, pointerOf, resolve } from './schema.js';
import { draw, plotKind } from './plot.js';

/**
 * @typedef {import('./schema.js').Field} Field
 * @typedef {import('./schema.js').SchemaNode} SchemaNode
 * @typedef {import('./schema.js').Binding} Binding
 */

/**
 * What every component needs: the client, the state schema, the field
 * bindings, and whether (and why not) this principal may control.
 *
 * @typedef {object} PanelContext
 * @property {import('lab-link-js').LabLinkClient} client
 * @property {SchemaNode} root the state schema
 * @property {Record<string, SchemaNode>} commands the schema's commands
 * @property {(pointer: string[]) => Binding | undefined} bindingOf
 * @property {(capabilities: string[]) => string | null} refusal why the
 *   principal may not run a command that requires `capabilities`, or `null`
 * @property {HTMLElement} container the panel's root, where inline errors are looked up
 * @property {(message: string) => void} notify shows a message no field owns
 */

/** Rows per page of a table: a 1,000-row list renders one page at a time. */
export const PAGE_SIZE = 50;

/**
 * A scope of subscriptions, ended together when its part of the page is
 * replaced.
 */
export class Scope {
  /** @type {Array<() => void>} */
  #ends = [];

  /** @param {() => void} end */
  add(end) {
    this.#ends.push(end);
  }

  end() {
    for (const end of this.#ends.splice(0)) end();
  }
}

/**
 * A card: its title and its fields.
 *
 * @param {PanelContext} context
 * @param {Scope} scope
 * @param {{ title: string, fields: Field[] }} card
 * @returns {HTMLElement}
 */
export function renderCard(context, scope, card) {
  const section = element('section', { class: 'card', 'data-card': card.title });
  section.append(element('h2', {}, card.title));
  // A card that is one struct, list or map titled like it: no second heading.
  const [only] = card.fields;
  const untitled = card.fields.length === 1 && only.label === card.title;
  for (const field of card.fields) section.append(renderField(context, scope, [field.name], field, { untitled }));
  return section;
}

/**
 * How a value is placed: `bare` without its label (in a table cell),
 * `untitled` without the heading of a struct, list or map (its card
 * already says it).
 *
 * @typedef {{ bare?: boolean, untitled?: boolean }} Placement
 */

/**
 * One value of the state at `tokens`, shown the way its kind asks.
 *
 * @param {PanelContext} context
 * @param {Scope} scope
 * @param {string[]} tokens
 * @param {Field} field
 * @param {Placement} [placement]
 * @returns {HTMLElement}
 */
export function renderField(context, scope, tokens, field, placement = {}) {
  switch (field.kind) {
    case 'object':
      return renderSection(context, scope, tokens, field, placement);
    case 'table':
      return renderTable(context, scope, tokens, field, placement);
    case 'map':
      return renderMap(context, scope, tokens, field, placement);
    default:
      return renderLeaf(context, scope, tokens, field, placement.bare ?? false);
  }
}

/**
 * A struct: a titled section of its fields (`null` for an `Option` that is
 * `None`).
 *
 * @param {PanelContext} context
 * @param {Scope} scope
 * @param {string[]} tokens
 * @param {Field} field
 * @param {Placement} placement
 */
function renderSection(context, scope, tokens, field, placement) {
  const section = element('fieldset', { class: placement.untitled ? 'section plain' : 'section', 'data-path': pointerOf(tokens) });
  if (!placement.untitled) section.append(element('legend', { title: field.description ?? '' }, field.label));
  const body = element('div', { class: 'section-body' });
  section.append(body);
  if (!field.nullable) {
    for (const child of fieldsOf(context.root, field.node)) body.append(renderField(context, scope, [...tokens, child.name], child));
    return section;
  }
  // An `Option` of a struct: its fields while it is `Some`.
  const inner = new Scope();
  scope.add(() => inner.end());
  let present = /** @type {boolean | undefined} */ (undefined);
  scope.add(
    context.client.subscribe(pointerOf(tokens), (value) => {
      const now = value !== null && value !== undefined;
      if (now === present) return;
      present = now;
      inner.end();
      body.replaceChildren();
      if (!now) body.append(element('span', { class: 'value null' }, '— (none)'));
      else for (const child of fieldsOf(context.root, field.node)) body.append(renderField(context, inner, [...tokens, child.name], child));
    }),
  );
  return section;
}

/**
 * A list of structs: a table with a column per field and a row per item,
 * one page of {@link PAGE_SIZE} rows at a time.
 *
 * @param {PanelContext} context
 * @param {Scope} scope
 * @param {string[]} tokens
 * @param {Field} field
 * @param {Placement} placement
 */
function renderTable(context, scope, tokens, field, placement) {
  const itemSchema = resolve(context.root, field.node.items);
  const columns = fieldsOf(context.root, itemSchema);
  const wrapper = element('div', { class: 'table', 'data-path': pointerOf(tokens) });
  if (!placement.untitled) wrapper.append(element('h3', { title: field.description ?? '' }, field.label));
  const scroller = element('div', { class: 'table-scroll' });
  const table = element('table');
  const head = element('tr');
  head.append(element('th', { scope: 'col' }, '#'));
  for (const column of columns) head.append(element('th', { scope: 'col', title: column.description ?? '' }, column.unit ? `${column.label} (${column.unit})` : column.label));
  const body = element('tbody');
  table.append(element('thead', {}, head), body);
  scroller.append(table);
  const pager = element('div', { class: 'pager' });
  const previous = element('button', { type: 'button', class: 'page-previous' }, '‹ Previous');
  const next = element('button', { type: 'button', class: 'page-next' }, 'Next ›');
  const position = element('span', { class: 'page-position' });
  pager.append(previous, position, next);
  wrapper.append(scroller, pager);

  const rows = new Scope();
  scope.add(() => rows.end());
  let page = 0;
  let shown = { page: -1, length: -1 };
  /** @param {unknown} value */
  const show = (value) => {
    const length = Array.isArray(value) ? value.length : 0;
    const pages = Math.max(1, Math.ceil(length / PAGE_SIZE));
    page = Math.min(page, pages - 1);
    if (shown.page === page && shown.length === length) return;
    shown = { page, length };
    rows.end();
    body.replaceChildren();
    const first = page * PAGE_SIZE;
    for (let index = first; index < Math.min(length, first + PAGE_SIZE); index += 1) {
      const row = element('tr', { 'data-row': String(index) });
      row.append(element('td', { class: 'row-index' }, String(index)));
      for (const column of columns) {
        const cell = element('td');
        cell.append(renderField(context, rows, [...tokens, String(index), column.name], column, { bare: true }));
        row.append(cell);
      }
      body.append(row);
    }
    position.textContent = length === 0 ? 'no rows' : `rows ${first + 1}–${Math.min(length, first + PAGE_SIZE)} of ${length}`;
    previous.disabled = page === 0;
    next.disabled = page >= pages - 1;
    pager.hidden = pages === 1;
  };
  scope.add(context.client.subscribe(pointerOf(tokens), show));
  previous.addEventListener('click', () => {
    page = Math.max(0, page - 1);
    show(context.client.state === undefined ? [] : valueAt(context.client.state, tokens));
  });
  next.addEventListener('click', () => {
    page += 1;
    show(valueAt(context.client.state, tokens));
  });
  return wrapper;
}

/**
 * A map: a key/value list, editable through the command bound to
 * `{prefix}/{key}` (a new key too), with a remove button when that
 * command's value may be `null`.
 *
 * @param {PanelContext} context
 * @param {Scope} scope
 * @param {string[]} tokens
 * @param {Field} field
 * @param {Placement} placement
 */
function renderMap(context, scope, tokens, field, placement) {
  const valueField = describe(context.root, '', field.node.additionalProperties);
  const wrapper = element('div', { class: 'map', 'data-path': pointerOf(tokens) });
  if (!placement.untitled) wrapper.append(element('h3', { title: field.description ?? '' }, field.label));
  const list = element('dl', { class: 'entries' });
  wrapper.append(list);
  const entries = new Scope();
  scope.add(() => entries.end());
  /** @type {string[] | undefined} */
  let keys;
  scope.add(
    context.client.subscribe(pointerOf(tokens), (value) => {
      const now = value && typeof value === 'object' ? Object.keys(value) : [];
      if (keys && keys.length === now.length && keys.every((key, i) => key === now[i])) return;
      keys = now;
      entries.end();
      list.replaceChildren();
      if (now.length === 0) list.append(element('dd', { class: 'empty' }, 'no entries'));
      for (const key of now) {
        list.append(element('dt', {}, key));
        const entry = element('dd');
        entry.append(renderLeaf(context, entries, [...tokens, key], { ...valueField, name: key, label: key }, true));
        const binding = context.bindingOf([...tokens, key]);
        if (binding && acceptsNull(binding.valueSchema)) {
          const remove = element('button', { type: 'button', class: 'remove', title: `remove ${key}` }, '×');
          disableUnlessAllowed(context, remove, binding);
          remove.addEventListener('click', () => void send(context, binding, null, entry));
          entry.append(remove);
        }
        list.append(entry);
      }
    }),
  );
  // A new entry: any key, through the same command.
  const probe = context.bindingOf([...tokens, 'key']);
  if (probe) {
    const form = element('form', { class: 'map-add' });
    const key = element('input', { name: 'key', placeholder: 'key', 'aria-label': `${field.label}: new key` });
    const text = element('input', { name: 'value', placeholder: 'value', 'aria-label': `${field.label}: new value` });
    const add = element('button', { type: 'submit' }, 'Add');
    const error = element('span', { class: 'error', role: 'alert' });
    form.append(key, text, add, error);
    for (const control of [key, text, add]) disableUnlessAllowed(context, control, probe);
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      if (!key.value) {
        error.textContent = 'key is required';
        return;
      }
      const binding = /** @type {Binding} */ (context.bindingOf([...tokens, key.value]));
      const value = parseInput(valueField, text.value);
      const problem = check(valueField, value);
      if (problem) {
        error.textContent = `${valueField.label || 'value'} ${problem}`;
        return;
      }
      void send(context, binding, value, form).then((ok) => {
        if (ok) form.reset();
      });
    });
    wrapper.append(form);
  }
  return wrapper;
}

/**
 * A single value: its label, the value with its unit, and an editor when a
 * command edits it (and the field is not read-only).
 *
 * @param {PanelContext} context
 * @param {Scope} scope
 * @param {string[]} tokens
 * @param {Field} field
 * @param {boolean} bare no label (in a table cell or a map entry)
 * @returns {HTMLElement}
 */
export function renderLeaf(context, scope, tokens, field, bare) {
  const pointer = pointerOf(tokens);
  const binding = field.readOnly ? undefined : context.bindingOf(tokens);
  const leaf = element('div', { class: 'field', 'data-path': pointer, 'data-kind': field.kind });
  if (!bare) {
    leaf.append(element('label', { title: field.description ?? '' }, field.label + (field.nullable ? ' (optional)' : '')));
  }
  const line = element('span', { class: 'value-line' });
  leaf.append(line);
  const error = element('span', { class: 'error', role: 'alert' });
  /** @type {(value: unknown) => void} */
  let update;
  if (binding) {
    const input = editorFor(field);
    input.setAttribute('aria-label', pointer);
    line.append(input);
    disableUnlessAllowed(context, input, binding);
    update = (value) => {
      if (document.activeElement === input && input instanceof HTMLInputElement && input.type !== 'checkbox') return;
      setInput(input, field, value);
    };
    // Enter and the `change` that may follow it are one edit.
    /** @type {string | null} */
    let committed = null;
    const commit = () => {
      if (input.value === committed && !(input instanceof HTMLInputElement && input.type === 'checkbox')) return;
      committed = input.value;
      const value = readInput(input, field);
      const problem = check(field, value) ?? (binding.valueSchema ? check(describe({}, binding.valueParam, binding.valueSchema), value) : null);
      if (problem) {
        showError(leaf, `${field.label} ${problem}`);
        return;
      }
      void send(context, binding, value, leaf).then(() => setInput(input, field, valueAt(context.client.state, tokens)));
    };
    input.addEventListener('change', commit);
    input.addEventListener('input', () => (committed = null));
    input.addEventListener('keydown', (event) => {
      const key = /** @type {KeyboardEvent} */ (event).key;
      if (key === 'Enter') commit();
      if (key === 'Escape') setInput(input, field, valueAt(context.client.state, tokens));
    });
  } else {
    const shown = element('span', { class: 'value' });
    line.append(shown);
    update = (value) => {
      shown.textContent = formatValue(field, value);
      shown.classList.toggle('null', value === null || value === undefined);
    };
  }
  if (field.unit) line.append(element('span', { class: 'unit' }, field.unit));
  leaf.append(error);
  scope.add(context.client.subscribe(pointer, update));
  return leaf;
}

/**
 * A command as a form generated from its params' schema: numbers with
 * their unit and limits, enums as selects, booleans as switches, optional
 * params marked; the result shown under it.
 *
 * @param {PanelContext} context
 * @param {string} name
 * @param {SchemaNode} info the command's entry in `/schema`
 * @returns {HTMLElement}
 */
export function renderCommand(context, name, info) {
  const params = info.params ?? {};
  const required = new Set(Array.isArray(params.required) ? params.required : []);
  const form = element('form', { class: 'command', 'data-command': name });
  form.append(element('h3', {}, name));
  if (typeof info.description === 'string') form.append(element('p', { class: 'description' }, info.description.split(/\n\s*\n/)[0].replace(/`/g, '')));
  /** @type {Array<{ field: Field, input: HTMLInputElement | HTMLSelectElement, holder: HTMLElement }>} */
  const inputs = [];
  for (const field of fieldsOf(params, params)) {
    const optional = !required.has(field.name);
    const holder = element('div', { class: 'field', 'data-param': field.name, 'data-path': `/${field.name}` });
    holder.append(element('label', { title: field.description ?? '' }, field.label + (optional || field.nullable ? ' (optional)' : '')));
    const line = element('span', { class: 'value-line' });
    const input = editorFor(field, optional || field.nullable);
    input.setAttribute('name', field.name);
    input.setAttribute('aria-label', `${name}: ${field.label}`);
    line.append(input);
    if (field.unit) line.append(element('span', { class: 'unit' }, field.unit));
    const limits = limitsText(field);
    if (limits) line.append(element('span', { class: 'limits' }, limits));
    holder.append(line, element('span', { class: 'error', role: 'alert' }));
    form.append(holder);
    inputs.push({ field, input, holder });
  }
  const run = element('button', { type: 'submit' }, 'Run');
  const output = element('output', { class: 'result' });
  const error = element('span', { class: 'error form-error', role: 'alert' });
  form.append(element('div', { class: 'form-actions' }, run, output), error);
  const refusal = context.refusal(Array.isArray(info.requires) ? info.requires : ['control']);
  if (refusal) {
    for (const { input } of inputs) input.disabled = true;
    run.disabled = true;
    form.title = refusal;
    form.append(element('p', { class: 'why-disabled' }, refusal));
  }
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    form.querySelectorAll('.error').forEach((holder) => (holder.textContent = ''));
    /** @type {Record<string, unknown>} */
    const values = {};
    let refused = false;
    for (const { field, input, holder } of inputs) {
      const value = readInput(input, field);
      const optional = !required.has(field.name);
      const problem = check(field, value, { required: !optional });
      if (problem) {
        showError(holder, `${field.label} ${problem}`);
        refused = true;
      } else if (value !== undefined && !(optional && value === null && !field.nullable)) {
        values[field.name] = value;
      }
    }
    if (refused) return;
    output.textContent = 'running…';
    form.classList.add('pending');
    context.client.command(name, values).then(
      (result) => {
        form.classList.remove('pending');
        output.textContent = result === undefined || result === null ? 'done' : JSON.stringify(result);
      },
      (failure) => {
        form.classList.remove('pending');
        output.textContent = '';
        const message = failure instanceof CommandError ? failure.message : String(failure);
        const target = failure instanceof CommandError && failure.path ? form.querySelector(`[data-path="${cssEscape(failure.path)}"]`) : null;
        if (target instanceof HTMLElement) showError(target, message);
        else if (failure instanceof CommandError && failure.path && showAtPath(context, failure.path, message)) error.textContent = message;
        else error.textContent = message;
      },
    );
  });
  return form;
}

/**
 * A stream as a plot, redrawn at most once per animation frame; the
 * count of updates received is in `data-updates`.
 *
 * @param {PanelContext} context
 * @param {Scope} scope
 * @param {SchemaNode} stream the stream's entry in `/schema`
 * @returns {HTMLElement}
 */
export function renderStream(context, scope, stream) {
  const kind = plotKind({ mode: String(stream.mode) });
  const figure = element('figure', { class: 'plot', 'data-stream': stream.id, 'data-plot': kind, 'data-updates': '0' });
  const axes = stream.axes ? ` — ${stream.axes.y ?? ''} over ${stream.axes.x ?? ''}` : '';
  figure.append(element('figcaption', { title: stream.description ?? '' }, `${stream.id}${stream.unit ? ` (${stream.unit})` : ''}${axes}`));
  const canvas = element('canvas', { role: 'img', 'aria-label': `${stream.id}: ${kind}` });
  const latest = element('span', { class: 'latest' });
  figure.append(canvas, latest);
  let updates = 0;
  let scheduled = false;
  /** @type {ArrayLike<unknown>} */
  let data = [];
  scope.add(
    context.client.subscribeStream(stream.id, (state) => {
      updates += 1;
      data = state.data;
      figure.dataset.updates = String(updates);
      if (scheduled) return;
      scheduled = true;
      requestAnimationFrame(() => {
        scheduled = false;
        const took = draw(canvas, data, kind);
        figure.dataset.drawMs = took.toFixed(2);
        const last = data.length > 0 ? data[data.length - 1] : undefined;
        latest.textContent = kind === 'line' && typeof last === 'number' ? `latest ${last}${stream.unit ? ` ${stream.unit}` : ''}` : `${data.length} points`;
      });
    }),
  );
  return figure;
}

// ---- editing

/**
 * Sends `value` through `binding`; shows the server's refusal at the
 * field its `path` names (else at `owner`). Resolves with whether it ran.
 *
 * @param {PanelContext} context
 * @param {Binding} binding
 * @param {unknown} value
 * @param {HTMLElement} owner
 * @returns {Promise<boolean>}
 */
async function send(context, binding, value, owner) {
  clearError(owner);
  owner.classList.add('pending');
  try {
    await context.client.command(binding.command, { ...binding.params, [binding.valueParam]: value });
    return true;
  } catch (failure) {
    const message = failure instanceof CommandError ? failure.message : String(failure);
    const path = failure instanceof CommandError ? failure.path : undefined;
    if (!(path && showAtPath(context, path, message))) {
      if (owner.querySelector('.error')) showError(owner, message);
      else context.notify(message);
    }
    return false;
  } finally {
    owner.classList.remove('pending');
  }
}

/**
 * Shows `message` at the field whose `data-path` is `path`; false when no
 * such field is on the page.
 *
 * @param {PanelContext} context
 * @param {string} path
 * @param {string} message
 */
function showAtPath(context, path, message) {
  const target = context.container.querySelector(`.field[data-path="${cssEscape(path)}"]`);
  if (!(target instanceof HTMLElement)) return false;
  showError(target, message);
  return true;
}

/**
 * @param {HTMLElement} holder an element with an `.error` child
 * @param {string} message
 */
function showError(holder, message) {
  holder.dataset.invalid = 'true';
  const slot = holder.querySelector('.error');
  if (slot) slot.textContent = message;
}

/** @param {HTMLElement} holder */
function clearError(holder) {
  delete holder.dataset.invalid;
  const slot = holder.querySelector('.error');
  if (slot) slot.textContent = '';
}

/**
 * The input for `field`: a switch, a select, a number or a text input.
 *
 * @param {Field} field
 * @param {boolean} [optional] a blank choice for "not given"
 * @returns {HTMLInputElement | HTMLSelectElement}
 */
function editorFor(field, optional = field.nullable) {
  if (field.kind === 'boolean') {
    return element('input', { type: 'checkbox', class: 'switch', role: 'switch' });
  }
  if (field.kind === 'enum') {
    const select = element('select');
    if (optional) select.append(element('option', { value: '' }, '—'));
    for (const option of field.options ?? []) select.append(element('option', { value: option }, option));
    return select;
  }
  if (field.kind === 'number' || field.kind === 'integer') {
    const input = element('input', { type: 'number', inputmode: 'decimal' });
    const node = field.node;
    if (typeof node.minimum === 'number') input.min = String(node.minimum);
    if (typeof node.maximum === 'number') input.max = String(node.maximum);
    input.step = field.kind === 'integer' ? '1' : field.precision !== undefined ? String(10 ** -field.precision) : 'any';
    return input;
  }
  return element('input', { type: 'text' });
}

/**
 * @param {HTMLInputElement | HTMLSelectElement} input
 * @param {Field} field
 * @param {unknown} value
 */
function setInput(input, field, value) {
  if (input instanceof HTMLInputElement && input.type === 'checkbox') input.checked = value === true;
  else if (value === null || value === undefined) input.value = '';
  else if (typeof value === 'number' && field.precision !== undefined) input.value = value.toFixed(field.precision);
  else input.value = String(value);
}

/**
 * What the input holds, as the field's JSON type (`null` when blank).
 *
 * @param {HTMLInputElement | HTMLSelectElement} input
 * @param {Field} field
 * @returns {unknown}
 */
function readInput(input, field) {
  if (input instanceof HTMLInputElement && input.type === 'checkbox') return input.checked;
  return parseInput(field, input.value);
}

/**
 * @param {Field} field
 * @param {string} text
 * @returns {unknown}
 */
function parseInput(field, text) {
  if (text === '') return null;
  if (field.kind === 'number' || field.kind === 'integer') return Number(text);
  if (field.kind === 'any') {
    try {
      return JSON.parse(text);
    } catch {
      return text;
    }
  }
  return text;
}

/**
 * Disables `control` when the principal may not run `binding`'s command,
 * saying why in its title.
 *
 * @param {PanelContext} context
 * @param {HTMLInputElement | HTMLSelectElement | HTMLButtonElement} control
 * @param {Binding} binding
 */
function disableUnlessAllowed(context, control, binding) {
  const info = context.commands[binding.command] ?? {};
  const refusal = context.refusal(Array.isArray(info.requires) ? info.requires : ['control']);
  if (refusal) {
    control.disabled = true;
    control.title = refusal;
  }
}

/** @param {SchemaNode | undefined} schema */
function acceptsNull(schema) {
  return Array.isArray(schema?.type) && schema.type.includes('null');
}

/** @param {Field} field `0 … 10` style limits, or '' */
function limitsText(field) {
  const node = field.node;
  const low = node.minimum ?? (node.exclusiveMinimum !== undefined ? `>${node.exclusiveMinimum}` : undefined);
  const high = node.maximum ?? (node.exclusiveMaximum !== undefined ? `<${node.exclusiveMaximum}` : undefined);
  if (low === undefined && high === undefined) return '';
  return `${low ?? ''} … ${high ?? ''}`;
}

/**
 * @param {unknown} document
 * @param {string[]} tokens
 * @returns {unknown}
 */
function valueAt(document, tokens) {
  /** @type {any} */
  let node = document;
  for (const token of tokens) node = node?.[token];
  return node;
}

/** @param {string} text */
function cssEscape(text) {
  return text.replace(/["\\]/g, '\\$&');
}

/**
 * A new element with attributes and children.
 *
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Record<string, string>} [attributes]
 * @param {...(Node | string)} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  node.append(...children);
  return node;
}
