/**
 * Calls `listener` after every change of the client's replica or streams
 * (a snapshot, a patch, a stream update), of its running commands and of
 * its connection status.
 * Returns the function that stops it.
 *
 * @param {import('./client.js').LabLinkClient} client
 * @param {() => void} listener
 * @returns {() => void}
 */
export function onAnyChange(client: import("./client.js").LabLinkClient, listener: () => void): () => void;
/**
 * Calls `callback(value)` with `selector(client)` now and whenever it
 * changes (`Object.is`: the replica shares what a patch did not touch, so
 * a selected subtree keeps its identity until it changes).
 *
 * @template T
 * @param {import('./client.js').LabLinkClient} client
 * @param {(client: import('./client.js').LabLinkClient) => T} selector
 * @param {(value: T) => void} callback
 * @returns {() => void}
 */
export function watch<T>(client: import("./client.js").LabLinkClient, selector: (client: import("./client.js").LabLinkClient) => T, callback: (value: T) => void): () => void;
