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
    constructor(fields: CommandErrorFields);
    /** @type {string} */
    code: string;
    /** @type {string | undefined} */
    detail: string | undefined;
    /** @type {'info' | 'warning' | 'error'} */
    severity: "info" | "warning" | "error";
    /** @type {'toast' | 'banner' | 'inline'} */
    display: "toast" | "banner" | "inline";
    /** @type {string | undefined} */
    path: string | undefined;
    /** @type {boolean} */
    recoverable: boolean;
    /** @type {string | undefined} */
    command: string | undefined;
    /** @type {unknown} */
    requestId: unknown;
    /** @type {number | undefined} */
    version: number | undefined;
}
/**
 * The fields of a `command_error` message (and of the errors this runtime
 * makes itself: `not_connected`, `connection_lost`, `invalid_params`).
 */
export type CommandErrorFields = {
    /**
     * stable, machine-readable
     */
    code: string;
    /**
     * for people
     */
    message: string;
    /**
     * a longer, technical explanation
     */
    detail?: string | undefined;
    severity?: "info" | "warning" | "error" | undefined;
    /**
     * where to show it
     */
    display?: "toast" | "banner" | "inline" | undefined;
    /**
     * the JSON Pointer of the field (or param) concerned
     */
    path?: string | undefined;
    /**
     * whether trying again can succeed
     */
    recoverable?: boolean | undefined;
    command?: string | undefined;
    requestId?: unknown;
    /**
     * the document's version when it was sent
     */
    version?: number | undefined;
};
