// What the panel reads from `GET {prefix}/schema`, as plain data: the
// kind of each value, its label, unit, precision and limits, the groups of
// the top-level fields, the command that edits a field, and the checks a
// value must pass before it is sent. No DOM here, so Node tests it.

import { formatPointer } from 'lab-link-js';

/**
 * A JSON Schema node as `/schema` serves it, with lab-link's annotations.
 *
 * @typedef {{ [key: string]: any }} SchemaNode
 */

/**
 * What a value is, for the panel: how it is shown and edited.
 *
 * - `object`: a struct (its `properties`), shown as a section;
 * - `table`: a list of structs, shown as a table, a row per item;
 * - `list`: a list of anything else;
 * - `map`: string keys to values (`additionalProperties`), a key/value list;
 * - `enum`: one of a few strings (a select);
 * - `number`, `integer`, `boolean`, `string`: a single value;
 * - `any`: anything else, shown as JSON.
 *
 * @typedef {'object' | 'table' | 'list' | 'map' | 'enum' | 'number' | 'integer' | 'boolean' | 'string' | 'any'} Kind
 */

/**
 * One value's description.
 *
 * @typedef {object} Field
 * @property {string} name the property's name (or key)
 * @property {string} label its `title`, else its name made readable
 * @property {Kind} kind
 * @property {boolean} nullable an `Option`: `null` is a value
 * @property {SchemaNode} node the resolved schema (without `null`)
 * @property {string} [unit]
 * @property {number} [precision]
 * @property {string} [description]
 * @property {string} [group]
 * @property {number} order
 * @property {boolean} readOnly
 * @property {string[]} [options] the choices of an `enum`
 */

/**
 * A field's editing command: the command, the param that carries the new
 * value, and the params the path fixes (`{channel}` → 2).
 *
 * @typedef {object} Binding
 * @property {string} command
 * @property {string} valueParam
 * @property {Record<string, unknown>} params
 * @property {SchemaNode | undefined} valueSchema the value param's schema
 */

/**
 * `node` with its `$ref` (into the root's `$defs`) followed; the node's
 * own keywords (a doc comment at the use site) win.
 *
 * @param {SchemaNode} root
 * @param {SchemaNode | undefined} node
 * @returns {SchemaNode}
 */
export function resolve(root, node) {
  if (!node || typeof node !== 'object') return {};
  let current = node;
  // `allOf: [{$ref}]` is how older generators attach a description to a reference.
  if (!current.$ref && Array.isArray(current.allOf) && current.allOf.length === 1) {
    const { allOf, ...rest } = current;
    current = { ...allOf[0], ...rest };
  }
  for (let depth = 0; typeof current.$ref === 'string' && depth < 32; depth += 1) {
    const target = lookupRef(root, current.$ref);
    const { $ref, ...rest } = current;
    current = { ...target, ...rest };
  }
  return current;
}

/**
 * The description of the value `name` whose schema is `node`.
 *
 * @param {SchemaNode} root
 * @param {string} name
 * @param {SchemaNode | undefined} node
 * @returns {Field}
 */
export function describe(root, name, node) {
  const outer = resolve(root, node);
  const { node: inner, nullable } = withoutNull(root, outer);
  // Annotations may sit on the `Option` wrapper or on what it holds.
  const merged = { ...inner, ...pick(outer, ['title', 'description', 'unit', 'precision', 'group', 'order', 'readOnly']) };
  /** @type {Field} */
  const field = {
    name,
    label: typeof merged.title === 'string' ? merged.title : humanize(name),
    kind: kindOf(root, merged),
    nullable,
    node: merged,
    order: typeof merged.order === 'number' ? merged.order : 0,
    readOnly: merged.readOnly === true,
  };
  if (typeof merged.unit === 'string') field.unit = merged.unit;
  if (typeof merged.precision === 'number') field.precision = merged.precision;
  if (typeof merged.description === 'string') field.description = firstParagraph(merged.description);
  if (typeof merged.group === 'string') field.group = merged.group;
  if (field.kind === 'enum') field.options = enumOptions(merged);
  return field;
}

/**
 * The fields of an object node, by `order`, then as declared.
 *
 * @param {SchemaNode} root
 * @param {SchemaNode} node an `object` node
 * @returns {Field[]}
 */
export function fieldsOf(root, node) {
  const properties = resolve(root, node).properties ?? {};
  const fields = Object.entries(properties).map(([name, child]) => describe(root, name, child));
  return stableSort(fields, (a, b) => a.order - b.order);
}

/**
 * The top-level fields as cards: each `group` is a card; a struct, list or
 * map without a group is a card of its own; the single values left are
 * the card "General". Cards keep the order their first field has.
 *
 * @param {SchemaNode} root the state schema
 * @returns {Array<{ title: string, fields: Field[] }>}
 */
export function cards(root) {
  /** @type {Map<string, Field[]>} */
  const byTitle = new Map();
  for (const field of fieldsOf(root, root)) {
    const composite = ['object', 'table', 'list', 'map'].includes(field.kind);
    const title = field.group ?? (composite ? field.label : 'General');
    const list = byTitle.get(title) ?? [];
    list.push(field);
    byTitle.set(title, list);
  }
  return [...byTitle].map(([title, fields]) => ({ title, fields }));
}

/**
 * The editing commands of fields, from every command's `edits`, as a
 * function from a field's pointer to its binding (or `undefined`: the
 * field is shown read-only).
 *
 * @param {Record<string, SchemaNode>} commands the schema's `commands`
 * @returns {(pointer: string[]) => Binding | undefined}
 */
export function bindings(commands) {
  /** @type {Array<{ command: string, tokens: string[], valueParam: string, paramSchemas: Record<string, SchemaNode> }>} */
  const patterns = [];
  for (const [command, info] of Object.entries(commands ?? {})) {
    for (const edit of info.edits ?? []) {
      const tokens = String(edit.path).split('/').slice(1);
      patterns.push({ command, tokens, valueParam: String(edit.value), paramSchemas: info.params?.properties ?? {} });
    }
  }
  return (pointer) => {
    for (const pattern of patterns) {
      if (pattern.tokens.length !== pointer.length) continue;
      /** @type {Record<string, unknown>} */
      const params = {};
      const matches = pattern.tokens.every((token, i) => {
        const placeholder = /^\{(.+)\}$/.exec(token);
        if (!placeholder) return token === unescapeToken(pointer[i]);
        const param = placeholder[1];
        const type = pattern.paramSchemas[param]?.type;
        params[param] = type === 'integer' || type === 'number' ? Number(pointer[i]) : pointer[i];
        return true;
      });
      if (matches) {
        return { command: pattern.command, valueParam: pattern.valueParam, params, valueSchema: pattern.paramSchemas[pattern.valueParam] };
      }
    }
    return undefined;
  };
}

/**
 * Why `value` cannot be sent for `field`, or `null` when it can: the
 * checks the server makes from the same schema (finite number, integer,
 * `minimum`/`maximum` and their exclusive twins, one of the `enum`,
 * present when required).
 *
 * @example
 * check({ kind: 'number', node: { minimum: -10, maximum: 10 }, unit: 'V', nullable: false }, 12);
 * // 'must be at most 10 V'
 *
 * @param {Pick<Field, 'kind' | 'node' | 'nullable' | 'unit' | 'options'>} field
 * @param {unknown} value
 * @param {{ required?: boolean }} [options]
 * @returns {string | null}
 */
export function check(field, value, options = {}) {
  const required = options.required ?? true;
  if (value === undefined || value === null || value === '') {
    if (field.nullable || !required) return null;
    return 'is required';
  }
  const unit = field.unit ? ` ${field.unit}` : '';
  const node = field.node;
  if (field.kind === 'number' || field.kind === 'integer') {
    if (typeof value !== 'number' || !Number.isFinite(value)) return 'must be a number';
    if (field.kind === 'integer' && !Number.isInteger(value)) return 'must be a whole number';
    if (typeof node.minimum === 'number' && value < node.minimum) return `must be at least ${node.minimum}${unit}`;
    if (typeof node.maximum === 'number' && value > node.maximum) return `must be at most ${node.maximum}${unit}`;
    if (typeof node.exclusiveMinimum === 'number' && value <= node.exclusiveMinimum) return `must be above ${node.exclusiveMinimum}${unit}`;
    if (typeof node.exclusiveMaximum === 'number' && value >= node.exclusiveMaximum) return `must be below ${node.exclusiveMaximum}${unit}`;
  }
  if (field.kind === 'boolean' && typeof value !== 'boolean') return 'must be on or off';
  if (field.kind === 'string' && typeof value !== 'string') return 'must be text';
  if (field.kind === 'enum' && !(field.options ?? []).includes(/** @type {string} */ (value))) {
    return `must be one of ${(field.options ?? []).join(', ')}`;
  }
  return null;
}

/**
 * `value` as the panel shows it: numbers with the field's precision,
 * `null` as an em dash, structures as JSON. The unit is shown beside it.
 *
 * @param {Pick<Field, 'precision'>} field
 * @param {unknown} value
 * @returns {string}
 */
export function formatValue(field, value) {
  if (value === null || value === undefined) return '—';
  if (typeof value === 'number') {
    return field.precision !== undefined ? value.toFixed(field.precision) : String(value);
  }
  if (typeof value === 'boolean') return value ? 'on' : 'off';
  if (typeof value === 'string') return value;
  return JSON.stringify(value);
}

/**
 * The JSON Pointer of `tokens`, for `data-path` attributes and error
 * matching.
 *
 * @param {string[]} tokens
 * @returns {string}
 */
export function pointerOf(tokens) {
  return formatPointer(tokens);
}

// ---- helpers

/**
 * @param {SchemaNode} root
 * @param {SchemaNode} node resolved
 * @returns {Kind}
 */
function kindOf(root, node) {
  if (Array.isArray(node.enum) && node.enum.every((v) => typeof v === 'string')) return 'enum';
  if (Array.isArray(node.oneOf) && node.oneOf.length > 0 && node.oneOf.every((/** @type {SchemaNode} */ v) => typeof v.const === 'string' || isStringEnum(v))) {
    return 'enum';
  }
  const type = Array.isArray(node.type) ? node.type.find((/** @type {string} */ t) => t !== 'null') : node.type;
  if (node.properties || (type === 'object' && !node.additionalProperties)) return 'object';
  if (type === 'object') return 'map';
  if (type === 'array') {
    const items = resolve(root, node.items);
    return items.properties ? 'table' : 'list';
  }
  if (type === 'number' || type === 'integer' || type === 'boolean' || type === 'string') return type;
  return 'any';
}

/** @param {SchemaNode} node */
function isStringEnum(node) {
  return Array.isArray(node.enum) && node.enum.every((/** @type {unknown} */ v) => typeof v === 'string');
}

/**
 * @param {SchemaNode} node
 * @returns {string[]}
 */
function enumOptions(node) {
  if (Array.isArray(node.enum)) return node.enum.map(String);
  return node.oneOf.flatMap((/** @type {SchemaNode} */ v) => (typeof v.const === 'string' ? [v.const] : (v.enum ?? []).map(String)));
}

/**
 * An `Option`: `type: [T, "null"]`, or `anyOf`/`oneOf` of a schema and
 * `{type: "null"}`.
 *
 * @param {SchemaNode} root
 * @param {SchemaNode} node
 * @returns {{ node: SchemaNode, nullable: boolean }}
 */
function withoutNull(root, node) {
  if (Array.isArray(node.type) && node.type.includes('null')) {
    const types = node.type.filter((/** @type {string} */ t) => t !== 'null');
    return { node: { ...node, type: types.length === 1 ? types[0] : types }, nullable: true };
  }
  for (const key of ['anyOf', 'oneOf']) {
    const variants = node[key];
    if (Array.isArray(variants) && variants.length === 2) {
      const other = variants.find((/** @type {SchemaNode} */ v) => v.type !== 'null');
      if (other && variants.some((/** @type {SchemaNode} */ v) => v.type === 'null')) {
        const { [key]: _, ...rest } = node;
        return { node: { ...resolve(root, other), ...rest }, nullable: true };
      }
    }
  }
  return { node, nullable: false };
}

/**
 * @param {SchemaNode} root
 * @param {string} ref
 * @returns {SchemaNode}
 */
function lookupRef(root, ref) {
  if (!ref.startsWith('#/')) return {};
  /** @type {any} */
  let node = root;
  for (const token of ref.slice(2).split('/')) node = node?.[unescapeToken(token)];
  return node && typeof node === 'object' ? node : {};
}

/** @param {string} token */
function unescapeToken(token) {
  return token.replace(/~1/g, '/').replace(/~0/g, '~');
}

/**
 * @param {SchemaNode} node
 * @param {string[]} keys
 * @returns {SchemaNode}
 */
function pick(node, keys) {
  /** @type {SchemaNode} */
  const picked = {};
  for (const key of keys) if (node[key] !== undefined) picked[key] = node[key];
  return picked;
}

/** @param {string} name `bias_voltage` → `Bias voltage` */
function humanize(name) {
  const words = name.replace(/[_-]+/g, ' ').replace(/([a-z])([A-Z])/g, '$1 $2').trim().toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** @param {string} text a doc comment: its first paragraph, without Markdown code fences */
function firstParagraph(text) {
  return text.split(/\n\s*\n/)[0].replace(/\s+/g, ' ').replace(/`/g, '').trim();
}

/**
 * @template T
 * @param {T[]} items
 * @param {(a: T, b: T) => number} compare
 * @returns {T[]}
 */
function stableSort(items, compare) {
  return items.map((item, index) => ({ item, index })).sort((a, b) => compare(a.item, b.item) || a.index - b.index).map(({ item }) => item);
}
