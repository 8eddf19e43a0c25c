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
export function parsePointer(pointer: string): string[];
/**
 * One reference token escaped for a pointer (`~` → `~0`, `/` → `~1`).
 *
 * @example
 * '/labels/' + escapeToken('a/b'); // '/labels/a~1b'
 *
 * @param {string} token
 * @returns {string}
 */
export function escapeToken(token: string): string;
/**
 * The pointer made of `tokens`, escaped.
 *
 * @example
 * formatPointer(['channels', 0, 'bias_voltage']); // '/channels/0/bias_voltage'
 *
 * @param {Array<string | number>} tokens
 * @returns {string}
 */
export function formatPointer(tokens: Array<string | number>): string;
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
export function getPointer(document: unknown, pointer: string | string[]): unknown;
/**
 * The member `token` of a container, or `undefined` when it has none.
 *
 * @param {unknown} container
 * @param {string} token
 * @returns {unknown}
 */
export function child(container: unknown, token: string): unknown;
/**
 * A token as an array index: decimal digits without a leading zero.
 *
 * @param {string} token
 * @returns {number | undefined}
 */
export function arrayIndex(token: string): number | undefined;
/**
 * Whether `value` is a JSON object (not an array, not null).
 *
 * @param {unknown} value
 * @returns {value is Record<string, unknown>}
 */
export function isObject(value: unknown): value is Record<string, unknown>;
/**
 * A JSON Pointer that is not well formed: not empty and not starting with
 * `/`, or with a `~` that is not `~0` or `~1`.
 */
export class PointerError extends Error {
    /**
     * @param {string} pointer the pointer as given
     * @param {string} message what is wrong with it
     */
    constructor(pointer: string, message: string);
    /** The pointer as given. */
    pointer: string;
}
