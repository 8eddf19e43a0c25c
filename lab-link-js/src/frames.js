// The binary stream frames of replace streams of floats.

/** Tag of a frame of float32 samples (level 1). */
export const TAG_F32 = 0x01;
/** Tag of a frame of float64 samples (level 2). */
export const TAG_F64 = 0x02;

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
  constructor(message) {
    super(message);
    this.name = 'FrameError';
  }
}

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
export function decodeBinaryFrame(data) {
  const bytes = ArrayBuffer.isView(data)
    ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
    : new Uint8Array(data);
  if (bytes.length < 3) throw new FrameError(`a binary frame of ${bytes.length} bytes has no header`);
  const tag = bytes[0];
  const width = tag === TAG_F32 ? 4 : tag === TAG_F64 ? 8 : 0;
  if (width === 0) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const idLength = view.getUint16(1, true);
  const samplesAt = 3 + idLength + 4;
  if (bytes.length < samplesAt) {
    throw new FrameError(`a binary frame of ${bytes.length} bytes cannot hold an id of ${idLength} bytes and a seq`);
  }
  if ((bytes.length - samplesAt) % width !== 0) {
    throw new FrameError(`the samples of a binary frame are ${bytes.length - samplesAt} bytes, not a multiple of ${width}`);
  }
  let id;
  try {
    id = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(3, 3 + idLength));
  } catch {
    throw new FrameError('the stream id of a binary frame is not UTF-8');
  }
  const seq = view.getUint32(3 + idLength, true);
  const count = (bytes.length - samplesAt) / width;
  const samples = width === 4 ? new Float32Array(count) : new Float64Array(count);
  for (let i = 0; i < count; i += 1) {
    samples[i] = width === 4
      ? view.getFloat32(samplesAt + 4 * i, true)
      : view.getFloat64(samplesAt + 8 * i, true);
  }
  return { id, seq, samples };
}
