/** @typedef {import('./client.js').LabLinkClient} LabLinkClient */
/**
 * A Svelte store (the store contract: `subscribe(run)` returns the
 * unsubscriber) of `selector(client)`, updated when it changes. Works
 * with `$store` in Svelte 4 and 5 components.
 *
 * @example
 * // Panel.svelte
 * // <script>
 * //   const running = labLinkStore(client, (c) => c.state?.acquisition.running);
 * // </script>
 * // <button disabled={$running}>Start</button>
 *
 * @template T
 * @param {LabLinkClient} client
 * @param {(client: LabLinkClient) => T} selector
 * @returns {{ subscribe: (run: (value: T) => void) => () => void }}
 */
export function labLinkStore<T>(client: LabLinkClient, selector: (client: LabLinkClient) => T): {
    subscribe: (run: (value: T) => void) => () => void;
};
export type LabLinkClient = import("./client.js").LabLinkClient;
