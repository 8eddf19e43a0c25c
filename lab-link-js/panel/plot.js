// A small canvas renderer for the panel's stream plots: a line (append
// streams, values over ticks), a trace (replace streams of numbers) and a
// histogram (int_delta streams). About 100 lines and no dependency: the
// panel draws at most a few thousand points per plot per frame, which a
// plain 2D canvas does well within a frame, so a vendored chart library
// (uPlot is about 50 KB minified) would cost more bytes than it saves time.

/**
 * How a stream is drawn.
 *
 * @typedef {'line' | 'trace' | 'histogram'} PlotKind
 */

/**
 * The plot kind of a stream, from its `mode`: append → a line over time,
 * replace → a trace, int_delta → a histogram.
 *
 * @param {{ mode: string }} stream
 * @returns {PlotKind}
 */
export function plotKind(stream) {
  if (stream.mode === 'int_delta') return 'histogram';
  if (stream.mode === 'replace') return 'trace';
  return 'line';
}

/**
 * The lowest and highest finite numbers of `data` (0 and 1 when there are
 * none; widened when they are equal, so a flat line sits mid-plot).
 *
 * @param {ArrayLike<unknown>} data
 * @param {boolean} fromZero include 0 (histograms)
 * @returns {[number, number]}
 */
export function extent(data, fromZero) {
  let low = fromZero ? 0 : Infinity;
  let high = fromZero ? 0 : -Infinity;
  for (let i = 0; i < data.length; i += 1) {
    const value = data[i];
    if (typeof value !== 'number' || !Number.isFinite(value)) continue;
    if (value < low) low = value;
    if (value > high) high = value;
  }
  if (low === Infinity) return [0, 1];
  if (low === high) return [low - 1, high + 1];
  return [low, high];
}

/**
 * Draws `data` on `canvas` as `kind`, sized to the canvas's CSS box, in
 * the colours of its CSS (`color` for the data, `--plot-grid` for the
 * axes). Returns the milliseconds it took.
 *
 * @param {HTMLCanvasElement} canvas
 * @param {ArrayLike<unknown>} data
 * @param {PlotKind} kind
 * @returns {number}
 */
export function draw(canvas, data, kind) {
  const started = performance.now();
  const ratio = globalThis.devicePixelRatio || 1;
  const width = Math.max(1, Math.round(canvas.clientWidth * ratio));
  const height = Math.max(1, Math.round(canvas.clientHeight * ratio));
  if (canvas.width !== width || canvas.height !== height) {
    canvas.width = width;
    canvas.height = height;
  }
  const context = canvas.getContext('2d');
  if (!context) return 0;
  const style = getComputedStyle(canvas);
  context.clearRect(0, 0, width, height);
  const pad = 4 * ratio;
  const [low, high] = extent(data, kind === 'histogram');
  const y = (/** @type {number} */ value) => height - pad - ((value - low) / (high - low)) * (height - 2 * pad);
  context.strokeStyle = style.getPropertyValue('--plot-grid') || '#8884';
  context.lineWidth = ratio;
  context.beginPath();
  context.moveTo(pad, y(Math.max(low, Math.min(high, 0))));
  context.lineTo(width - pad, y(Math.max(low, Math.min(high, 0))));
  context.stroke();
  const count = data.length;
  if (count === 0) return performance.now() - started;
  const color = style.color || '#36c';
  if (kind === 'histogram') {
    const bar = (width - 2 * pad) / count;
    context.fillStyle = color;
    for (let i = 0; i < count; i += 1) {
      const value = Number(data[i]);
      if (!Number.isFinite(value)) continue;
      const top = y(value);
      context.fillRect(pad + i * bar, top, Math.max(ratio, bar - ratio), y(0) - top);
    }
  } else {
    const step = count > 1 ? (width - 2 * pad) / (count - 1) : 0;
    context.strokeStyle = color;
    context.lineWidth = 1.5 * ratio;
    context.beginPath();
    let drawing = false;
    for (let i = 0; i < count; i += 1) {
      const value = Number(data[i]);
      if (!Number.isFinite(value)) {
        drawing = false;
        continue;
      }
      const x = pad + i * step;
      if (drawing) context.lineTo(x, y(value));
      else context.moveTo(x, y(value));
      drawing = true;
    }
    context.stroke();
  }
  return performance.now() - started;
}
