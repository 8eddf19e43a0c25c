// The structured error a command's promise is rejected with.

/**
 * The fields of a `command_error` message (and of the errors this runtime
 * makes itself: `not_connected`, `connection_lost`, `invalid_params`).
 *
 * @typedef {object} CommandErrorFields
 * @property {string} code stable, machine-readable
 * @property {string} message for people
 * @property {string} [detail] a longer, technical explanation
 * @property {'info' | 'warning' | 'error'} [severity]
 * @property {'toast' | 'banner' | 'inline'} [display] where to show it
 * @property {string} [path] the JSON Pointer of the field (or param) concerned
 * @property {boolean} [recoverable] whether trying again can succeed
 * @property {string} [command]
 * @property {unknown} [requestId]
 * @property {number} [version] the document's version when it was sent
 */

/**
 * A command that failed: the server's `command_error`, or a failure to
 * send or to hear back (code `not_connected` or `connection_lost`).
 *
 * @example
 * try {
 *   await client.command('set_channel', { channel: 0, value: 12 });
 * } catch (error) {
 *   if (error instanceof CommandError && error.display === 'inline') {
 *     showNextTo(error.path, error.message);
 *   }
 * }
 */
export class CommandError extends Error {
  /** @param {CommandErrorFields} fields */
  constructor(fields) {
    super(fields.message);
    this.name = 'CommandError';
    /** @type {string} */
    this.code = fields.code;
    /** @type {string | undefined} */
    this.detail = fields.detail;
    /** @type {'info' | 'warning' | 'error'} */
    this.severity = fields.severity ?? 'error';
    /** @type {'toast' | 'banner' | 'inline'} */
    this.display = fields.display ?? 'toast';
    /** @type {string | undefined} */
    this.path = fields.path;
    /** @type {boolean} */
    this.recoverable = fields.recoverable ?? true;
    /** @type {string | undefined} */
    this.command = fields.command;
    /** @type {unknown} */
    this.requestId = fields.requestId;
    /** @type {number | undefined} */
    this.version = fields.version;
  }
}
