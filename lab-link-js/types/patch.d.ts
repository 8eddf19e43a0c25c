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
export function applyPatch<T>(document: T, patch: readonly unknown[]): unknown;
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
export function jsonEqual(a: unknown, b: unknown): boolean;
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
    constructor(kind: PatchErrorKind, index: number, message: string);
    /** @type {PatchErrorKind} */
    kind: PatchErrorKind;
    /** The failing operation's index in the patch. */
    index: number;
}
export type OpName = "add" | "remove" | "replace" | "move" | "copy" | "test";
/**
 * One RFC 6902 operation, as it arrives on the wire.
 */
export type PatchOperation = {
    op: OpName;
    /**
     * a JSON Pointer
     */
    path: string;
    /**
     * for `add`, `replace` and `test`
     */
    value?: unknown;
    /**
     * for `move` and `copy`
     */
    from?: string | undefined;
};
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
 */
export type PatchErrorKind = "invalid_operation" | "missing" | "not_a_container" | "bad_index" | "move_into_child" | "test_failed";
