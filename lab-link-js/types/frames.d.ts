/**
 * Decodes a binary stream frame: tag, id length (u16 LE), id (UTF-8), seq
 * (u32 LE), then little-endian samples. A tag this runtime does not know
 * gives `undefined` (clients ignore such frames).
 *
 * @example
 * const frame = new Uint8Array([0x01, 1, 0, 0x74, 7, 0, 0, 0, 0, 0, 0x80, 0x3f]);
 * decodeBinaryFrame(frame); // { id: 't', seq: 7, samples: Float32Array [1] }
 *
 * @param {ArrayBuffer | ArrayBufferView} data
 * @returns {BinaryFrame | undefined}
 * @throws {FrameError} when the frame is truncated or its id is not UTF-8
 */
export function decodeBinaryFrame(data: ArrayBuffer | ArrayBufferView): BinaryFrame | undefined;
/** Tag of a frame of float32 samples (level 1). */
export const TAG_F32: 1;
/** Tag of a frame of float64 samples (level 2). */
export const TAG_F64: 2;
/**
 * One decoded binary frame.
 *
 * @typedef {object} BinaryFrame
 * @property {string} id the stream's id
 * @property {number} seq the low 32 bits of the update's `seq`
 * @property {Float32Array | Float64Array} samples
 */
/** A binary frame whose layout is wrong: too short, or a bad id. */
export class FrameError extends Error {
    /** @param {string} message */
    constructor(message: string);
}
/**
 * One decoded binary frame.
 */
export type BinaryFrame = {
    /**
     * the stream's id
     */
    id: string;
    /**
     * the low 32 bits of the update's `seq`
     */
    seq: number;
    samples: Float32Array | Float64Array;
};
