// JSON Patch (RFC 6902) applied without touching the input.
//
// `applyPatch` never mutates the document it is given: each operation
// copies the containers on its path (once per patch: a container copied
// by an earlier operation of the same patch is changed in place) and
// shares every other subtree. So a failing patch leaves the document as
// it was (atomicity for free), and a subtree the patch did not touch
// keeps its identity, which is how subscriptions tell what changed.

import { arrayIndex, child, formatPointer, isObject, parsePointer, PointerError } from './pointer.js';

/** @typedef {'add' | 'remove' | 'replace' | 'move' | 'copy' | 'test'} OpName */

/**
 * One RFC 6902 operation, as it arrives on the wire.
 *
 * @typedef {object} PatchOperation
 * @property {OpName} op
 * @property {string} path a JSON Pointer
 * @property {unknown} [value] for `add`, `replace` and `test`
 * @property {string} [from] for `move` and `copy`
 */

/**
 * Why a patch did not apply.
 *
 * - `invalid_operation`: not an object, an unknown `op`, a missing `value`
 *   or `from`, a pointer that is not well formed;
 * - `missing`: the path (or `from`) names nothing, or its parent is missing;
 * - `not_a_container`: a path goes through a number, string, boolean or null;
 * - `bad_index`: an array index that is not decimal, out of bounds, or `-`
 *   where only an existing element fits;
 * - `move_into_child`: a `move` into its own subtree;
 * - `test_failed`: a `test` found another value.
 *
 * @typedef {'invalid_operation' | 'missing' | 'not_a_container' | 'bad_index' | 'move_into_child' | 'test_failed'} PatchErrorKind
 */

/** A patch that did not apply; the document it was applied to is unchanged. */
export class PatchError extends Error {
  /**
   * @param {PatchErrorKind} kind
   * @param {number} index the failing operation's index in the patch
   * @param {string} message
   */
  constructor(kind, index, message) {
    super(`operation ${index}: ${message}`);
    this.name = 'PatchError';
    /** @type {PatchErrorKind} */
    this.kind = kind;
    /** The failing operation's index in the patch. */
    this.index = index;
  }
}

/**
 * Applies `patch` to `document` and returns the new document; `document`
 * itself is never changed. Subtrees the patch does not touch are shared
 * with `document` (same identity).
 *
 * @example
 * const before = { enabled: false, channels: [{ bias: 0 }] };
 * const after = applyPatch(before, [{ op: 'replace', path: '/enabled', value: true }]);
 * after.enabled;                           // true
 * before.enabled;                          // false
 * after.channels === before.channels;      // true: untouched, shared
 *
 * @template T
 * @param {T} document
 * @param {readonly unknown[]} patch the operations, applied in order, all or none
 * @returns {unknown}
 * @throws {PatchError} when an operation fails: nothing is changed
 */
export function applyPatch(document, patch) {
  if (!Array.isArray(patch)) {
    throw new PatchError('invalid_operation', 0, 'a patch must be an array of operations');
  }
  const apply = new Application(document);
  patch.forEach((operation, index) => apply.operation(operation, index));
  return apply.root;
}

/**
 * Deep equality as RFC 6902's `test` defines it: numbers by value, object
 * members in any order, arrays element by element.
 *
 * @example
 * jsonEqual({ a: [1, { b: 2 }] }, { a: [1.0, { b: 2 }] }); // true
 *
 * @param {unknown} a
 * @param {unknown} b
 * @returns {boolean}
 */
export function jsonEqual(a, b) {
  if (a === b) return true;
  if (Array.isArray(a)) {
    return Array.isArray(b) && a.length === b.length && a.every((value, i) => jsonEqual(value, b[i]));
  }
  if (isObject(a) && isObject(b)) {
    const keys = Object.keys(a);
    return (
      keys.length === Object.keys(b).length &&
      keys.every((key) => Object.hasOwn(b, key) && jsonEqual(a[key], b[key]))
    );
  }
  return false;
}

/** One `applyPatch` call: the new root and the containers it already copied. */
class Application {
  /** @param {unknown} root */
  constructor(root) {
    /** @type {unknown} */
    this.root = root;
    /** Containers created by this application: safe to change in place. */
    this.fresh = new WeakSet();
    /** The index of the operation being applied, for errors. */
    this.index = 0;
  }

  /**
   * @param {unknown} operation
   * @param {number} index
   */
  operation(operation, index) {
    this.index = index;
    if (!isObject(operation)) this.fail('invalid_operation', 'an operation must be an object');
    const { op } = operation;
    const path = this.pointer(operation, 'path');
    switch (op) {
      case 'add':
        return this.add(path, this.value(operation));
      case 'remove':
        return void this.remove(path);
      case 'replace': {
        const value = this.value(operation);
        this.read(path);
        return this.add(path, value, true);
      }
      case 'move': {
        const from = this.pointer(operation, 'from');
        if (from.length < path.length && from.every((token, i) => token === path[i])) {
          this.fail('move_into_child', `cannot move ${show(from)} into its own child ${show(path)}`);
        }
        return this.add(path, this.remove(from));
      }
      case 'copy':
        return this.add(path, this.read(this.pointer(operation, 'from')));
      case 'test': {
        const value = this.value(operation);
        if (!jsonEqual(this.read(path), value)) {
          this.fail('test_failed', `the value at ${show(path)} is not ${JSON.stringify(value)}`);
        }
        return;
      }
      default:
        this.fail('invalid_operation', `unknown op ${JSON.stringify(op)}`);
    }
  }

  /**
   * Adds (or, with `replace`, replaces) `value` at `path`.
   *
   * @param {string[]} path
   * @param {unknown} value
   * @param {boolean} [replace]
   */
  add(path, value, replace = false) {
    if (path.length === 0) {
      this.root = value;
      return;
    }
    const parent = this.writableParent(path);
    const token = /** @type {string} */ (path[path.length - 1]);
    if (Array.isArray(parent)) {
      if (replace) {
        parent[this.existingIndex(parent, token, path)] = value;
        return;
      }
      const index = token === '-' ? parent.length : arrayIndex(token);
      if (index === undefined || index > parent.length) {
        this.fail('bad_index', `${show(path)}: ${JSON.stringify(token)} is not an index from 0 to ${parent.length} or "-"`);
      }
      parent.splice(index, 0, value);
    } else {
      setMember(parent, token, value);
    }
  }

  /**
   * Removes the value at `path` and returns it.
   *
   * @param {string[]} path
   * @returns {unknown}
   */
  remove(path) {
    if (path.length === 0) this.fail('invalid_operation', 'cannot remove the whole document');
    const value = this.read(path);
    const parent = this.writableParent(path);
    const token = /** @type {string} */ (path[path.length - 1]);
    if (Array.isArray(parent)) {
      parent.splice(this.existingIndex(parent, token, path), 1);
    } else {
      delete parent[token];
    }
    return value;
  }

  /**
   * The value at `path`, which must exist.
   *
   * @param {string[]} path
   * @returns {unknown}
   */
  read(path) {
    /** @type {unknown} */
    let value = this.root;
    path.forEach((token, depth) => {
      if (!Array.isArray(value) && !isObject(value)) {
        this.fail('not_a_container', `${show(path.slice(0, depth))} is not an object or array`);
      }
      const next = child(value, token);
      if (next === undefined) this.fail('missing', `nothing at ${show(path.slice(0, depth + 1))}`);
      value = next;
    });
    return value;
  }

  /**
   * The container holding `path`'s last token, copied (once per
   * application) along with every container above it.
   *
   * @param {string[]} path at least one token long
   * @returns {unknown[] | Record<string, unknown>}
   */
  writableParent(path) {
    this.root = this.writable(this.root, []);
    let container = /** @type {unknown[] | Record<string, unknown>} */ (this.root);
    for (let depth = 0; depth < path.length - 1; depth += 1) {
      const token = /** @type {string} */ (path[depth]);
      const next = child(container, token);
      if (next === undefined) this.fail('missing', `nothing at ${show(path.slice(0, depth + 1))}`);
      const copy = this.writable(next, path.slice(0, depth + 1));
      if (copy !== next) {
        if (Array.isArray(container)) container[Number(token)] = copy;
        else setMember(container, token, copy);
      }
      container = copy;
    }
    return container;
  }

  /**
   * `value` itself when this application made it, else a shallow copy.
   *
   * @param {unknown} value
   * @param {string[]} at its path, for the error
   * @returns {unknown[] | Record<string, unknown>}
   */
  writable(value, at) {
    if (!Array.isArray(value) && !isObject(value)) {
      this.fail('not_a_container', `${show(at)} is not an object or array`);
    }
    if (this.fresh.has(value)) return value;
    const copy = Array.isArray(value) ? value.slice() : { ...value };
    this.fresh.add(copy);
    return copy;
  }

  /**
   * @param {unknown[]} array
   * @param {string} token
   * @param {string[]} path
   * @returns {number}
   */
  existingIndex(array, token, path) {
    const index = arrayIndex(token);
    if (index === undefined || index >= array.length) {
      this.fail('bad_index', `${show(path)}: ${JSON.stringify(token)} is not an index below ${array.length}`);
    }
    return index;
  }

  /**
   * The parsed pointer in `operation[member]`.
   *
   * @param {Record<string, unknown>} operation
   * @param {'path' | 'from'} member
   * @returns {string[]}
   */
  pointer(operation, member) {
    const pointer = operation[member];
    if (typeof pointer !== 'string') this.fail('invalid_operation', `"${member}" must be a string`);
    try {
      return parsePointer(pointer);
    } catch (error) {
      if (error instanceof PointerError) this.fail('invalid_operation', error.message);
      throw error;
    }
  }

  /**
   * `operation.value`, which must be present.
   *
   * @param {Record<string, unknown>} operation
   * @returns {unknown}
   */
  value(operation) {
    if (!Object.hasOwn(operation, 'value')) {
      this.fail('invalid_operation', `"${String(operation.op)}" needs a "value"`);
    }
    return operation.value;
  }

  /**
   * @param {PatchErrorKind} kind
   * @param {string} message
   * @returns {never}
   */
  fail(kind, message) {
    throw new PatchError(kind, this.index, message);
  }
}

/**
 * Sets an object member as data, `__proto__` included (plain assignment
 * would change the object's prototype instead).
 *
 * @param {Record<string, unknown>} object
 * @param {string} key
 * @param {unknown} value
 */
function setMember(object, key, value) {
  Object.defineProperty(object, key, { value, writable: true, enumerable: true, configurable: true });
}

/**
 * A parsed pointer, quoted for a message.
 *
 * @param {string[]} tokens
 * @returns {string}
 */
function show(tokens) {
  return JSON.stringify(formatPointer(tokens));
}
