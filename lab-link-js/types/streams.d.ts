/**
 * One stream as the client holds it. `data` is a new array (or typed
 * array) after every update, so that a change is a change of identity.
 *
 * @typedef {object} StreamState
 * @property {string} id
 * @property {ArrayLike<unknown>} data append: the buffer, oldest first;
 *   replace: the latest array (a `Float32Array` or `Float64Array` from a
 *   binary frame); int_delta: the bins
 * @property {number} seq the `seq` of the latest update held
 * @property {boolean} stale an update was missed: ignored until the
 *   stream's next snapshot, which has been asked for
 */
/**
 * What a stream message did to the stream's copy.
 *
 * @typedef {{ kind: 'changed', stream: StreamState } | { kind: 'gap', stream: StreamState, expected: number, got: number } | { kind: 'ignored' }} StreamOutcome
 */
/** Every stream's copy, updated message by message. */
export class Streams {
    /** @param {number} capacity the most values an append stream keeps */
    constructor(capacity: number);
    /** @type {Map<string, StreamState>} */
    byId: Map<string, StreamState>;
    capacity: number;
    /**
     * @param {string} id
     * @param {unknown[]} data
     * @param {number} seq
     * @returns {StreamOutcome}
     */
    snapshot(id: string, data: unknown[], seq: number): StreamOutcome;
    /**
     * @param {string} id
     * @param {unknown[]} values
     * @param {number} seq
     * @returns {StreamOutcome}
     */
    append(id: string, values: unknown[], seq: number): StreamOutcome;
    /**
     * Replace updates may skip `seq`s (the latest wins), so they are not
     * checked for gaps.
     *
     * @param {string} id
     * @param {ArrayLike<unknown>} data
     * @param {number} seq
     * @returns {StreamOutcome}
     */
    replace(id: string, data: ArrayLike<unknown>, seq: number): StreamOutcome;
    /**
     * @param {string} id
     * @param {Array<[number, number]>} deltas
     * @param {number} seq
     * @returns {StreamOutcome}
     */
    delta(id: string, deltas: Array<[number, number]>, seq: number): StreamOutcome;
    /** Forgets every stream: a new `snapshot` is followed by theirs. */
    clear(): void;
    /**
     * @param {string} id
     * @param {ArrayLike<unknown>} data
     * @param {number} seq
     * @returns {StreamOutcome}
     */
    set(id: string, data: ArrayLike<unknown>, seq: number): StreamOutcome;
    /**
     * Applies an update that must come right after the one held. A stream
     * registered after the client connected starts empty at seq 0.
     *
     * @param {string} id
     * @param {number} seq
     * @param {(data: ArrayLike<unknown>) => ArrayLike<unknown>} update
     * @returns {StreamOutcome}
     */
    inOrder(id: string, seq: number, update: (data: ArrayLike<unknown>) => ArrayLike<unknown>): StreamOutcome;
}
/**
 * One stream as the client holds it. `data` is a new array (or typed
 * array) after every update, so that a change is a change of identity.
 */
export type StreamState = {
    id: string;
    /**
     * append: the buffer, oldest first;
     * replace: the latest array (a `Float32Array` or `Float64Array` from a
     * binary frame); int_delta: the bins
     */
    data: ArrayLike<unknown>;
    /**
     * the `seq` of the latest update held
     */
    seq: number;
    /**
     * an update was missed: ignored until the
     * stream's next snapshot, which has been asked for
     */
    stale: boolean;
};
/**
 * What a stream message did to the stream's copy.
 */
export type StreamOutcome = {
    kind: "changed";
    stream: StreamState;
} | {
    kind: "gap";
    stream: StreamState;
    expected: number;
    got: number;
} | {
    kind: "ignored";
};
