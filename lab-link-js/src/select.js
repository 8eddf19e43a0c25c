// What the framework adapters share: selecting from a client, and hearing
// when what was selected may have changed.

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
export function onAnyChange(client, listener) {
  const offs = [
    client.on('snapshot', listener),
    client.on('patch', listener),
    client.on('stream', listener),
    client.on('running', listener),
    client.on('status', listener),
  ];
  return () => offs.forEach((off) => off());
}

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
export function watch(client, selector, callback) {
  let value = selector(client);
  callback(value);
  return onAnyChange(client, () => {
    const next = selector(client);
    if (!Object.is(next, value)) {
      value = next;
      callback(next);
    }
  });
}
