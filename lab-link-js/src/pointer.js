// JSON Pointers (RFC 6901): parsing, escaping and reading.

/**
 * A JSON Pointer that is not well formed: not empty and not starting with
 * `/`, or with a `~` that is not `~0` or `~1`.
 */
export class PointerError extends Error {
  /**
   * @param {string} pointer the pointer as given
   * @param {string} message what is wrong with it
   */
  constructor(pointer, message) {
    super(message);
    this.name = 'PointerError';
    /** The pointer as given. */
    this.pointer = pointer;
  }
}

/**
 * The reference tokens of a pointer, unescaped.
 *
 * @example
 * parsePointer('/labels/a~1b'); // ['labels', 'a/b']
 * parsePointer('');             // [] (the whole document)
 *
 * @param {string} pointer
 * @returns {string[]}
 * @throws {PointerError} when the pointer is not well formed
 */
export function parsePointer(pointer) {
  if (typeof pointer !== 'string') {
    throw new PointerError(String(pointer), 'a JSON Pointer must be a string');
  }
  if (pointer === '') return [];
  if (pointer[0] !== '/') {
    throw new PointerError(pointer, `the JSON Pointer ${JSON.stringify(pointer)} must be empty or start with "/"`);
  }
  return pointer.slice(1).split('/').map((token) => {
    if (/~[^01]|~$/.test(token)) {
      throw new PointerError(pointer, `the JSON Pointer ${JSON.stringify(pointer)} has a "~" that is not "~0" or "~1"`);
    }
    return token.replace(/~1/g, '/').replace(/~0/g, '~');
  });
}

/**
 * One reference token escaped for a pointer (`~` → `~0`, `/` → `~1`).
 *
 * @example
 * '/labels/' + escapeToken('a/b'); // '/labels/a~1b'
 *
 * @param {string} token
 * @returns {string}
 */
export function escapeToken(token) {
  return token.replace(/~/g, '~0').replace(/\//g, '~1');
}

/**
 * The pointer made of `tokens`, escaped.
 *
 * @example
 * formatPointer(['channels', 0, 'bias_voltage']); // '/channels/0/bias_voltage'
 *
 * @param {Array<string | number>} tokens
 * @returns {string}
 */
export function formatPointer(tokens) {
  return tokens.map((token) => '/' + escapeToken(String(token))).join('');
}

/**
 * The value at `pointer` in `document`, or `undefined` when there is none.
 * Array indices follow RFC 6901 strictly: decimal, no leading zero.
 *
 * @example
 * getPointer({ channels: [{ name: 'ch0' }] }, '/channels/0/name'); // 'ch0'
 *
 * @param {unknown} document
 * @param {string | string[]} pointer a pointer, or its parsed tokens
 * @returns {unknown}
 * @throws {PointerError} when the pointer is not well formed
 */
export function getPointer(document, pointer) {
  const tokens = typeof pointer === 'string' ? parsePointer(pointer) : pointer;
  /** @type {unknown} */
  let value = document;
  for (const token of tokens) {
    value = child(value, token);
    if (value === undefined) return undefined;
  }
  return value;
}

/**
 * The member `token` of a container, or `undefined` when it has none.
 *
 * @param {unknown} container
 * @param {string} token
 * @returns {unknown}
 */
export function child(container, token) {
  if (Array.isArray(container)) {
    const index = arrayIndex(token);
    return index !== undefined && index < container.length ? container[index] : undefined;
  }
  if (isObject(container) && Object.hasOwn(container, token)) {
    return container[token];
  }
  return undefined;
}

/**
 * A token as an array index: decimal digits without a leading zero.
 *
 * @param {string} token
 * @returns {number | undefined}
 */
export function arrayIndex(token) {
  return /^(0|[1-9][0-9]*)$/.test(token) ? Number(token) : undefined;
}

/**
 * Whether `value` is a JSON object (not an array, not null).
 *
 * @param {unknown} value
 * @returns {value is Record<string, unknown>}
 */
export function isObject(value) {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
