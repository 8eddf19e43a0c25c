// The client's copy of each stream, kept by `seq`.

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
  constructor(capacity) {
    /** @type {Map<string, StreamState>} */
    this.byId = new Map();
    this.capacity = capacity;
  }

  /**
   * @param {string} id
   * @param {unknown[]} data
   * @param {number} seq
   * @returns {StreamOutcome}
   */
  snapshot(id, data, seq) {
    return this.set(id, data, seq);
  }

  /**
   * @param {string} id
   * @param {unknown[]} values
   * @param {number} seq
   * @returns {StreamOutcome}
   */
  append(id, values, seq) {
    return this.inOrder(id, seq, (data) => {
      const all = Array.from(data).concat(values);
      return all.length > this.capacity ? all.slice(all.length - this.capacity) : all;
    });
  }

  /**
   * Replace updates may skip `seq`s (the latest wins), so they are not
   * checked for gaps.
   *
   * @param {string} id
   * @param {ArrayLike<unknown>} data
   * @param {number} seq
   * @returns {StreamOutcome}
   */
  replace(id, data, seq) {
    const stale = this.byId.get(id)?.stale ?? false;
    const stream = { id, data, seq, stale };
    this.byId.set(id, stream);
    return { kind: 'changed', stream };
  }

  /**
   * @param {string} id
   * @param {Array<[number, number]>} deltas
   * @param {number} seq
   * @returns {StreamOutcome}
   */
  delta(id, deltas, seq) {
    return this.inOrder(id, seq, (data) => {
      const bins = Array.from(data, Number);
      for (const [bin, delta] of deltas) {
        while (bins.length <= bin) bins.push(0);
        bins[bin] = /** @type {number} */ (bins[bin]) + delta;
      }
      return bins;
    });
  }

  /** Forgets every stream: a new `snapshot` is followed by theirs. */
  clear() {
    this.byId.clear();
  }

  /**
   * @param {string} id
   * @param {ArrayLike<unknown>} data
   * @param {number} seq
   * @returns {StreamOutcome}
   */
  set(id, data, seq) {
    const stream = { id, data, seq, stale: false };
    this.byId.set(id, stream);
    return { kind: 'changed', stream };
  }

  /**
   * Applies an update that must come right after the one held. A stream
   * registered after the client connected starts empty at seq 0.
   *
   * @param {string} id
   * @param {number} seq
   * @param {(data: ArrayLike<unknown>) => ArrayLike<unknown>} update
   * @returns {StreamOutcome}
   */
  inOrder(id, seq, update) {
    const current = this.byId.get(id) ?? { id, data: [], seq: 0, stale: false };
    if (current.stale) return { kind: 'ignored' };
    if (seq !== current.seq + 1) {
      const stream = { ...current, stale: true };
      this.byId.set(id, stream);
      return { kind: 'gap', stream, expected: current.seq + 1, got: seq };
    }
    return this.set(id, update(current.data), seq);
  }
}
