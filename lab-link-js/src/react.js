// The React adapter: `useLabLink(selector)`.

import { createContext, createElement, useCallback, useContext, useSyncExternalStore } from 'react';

import { onAnyChange } from './select.js';

/** @typedef {import('./client.js').LabLinkClient} LabLinkClient */

/** The client `useLabLink` reads when it is not given one. */
export const LabLinkContext = createContext(/** @type {LabLinkClient | null} */ (null));

/**
 * Provides `client` to every `useLabLink` below.
 *
 * @example
 * root.render(<LabLinkProvider client={client}><Panel /></LabLinkProvider>);
 *
 * @param {{ client: LabLinkClient, children?: import('react').ReactNode }} props
 */
export function LabLinkProvider({ client, children }) {
  return createElement(LabLinkContext.Provider, { value: client }, children);
}

/**
 * The value `selector(client)` picks, re-rendering the component when it
 * changes (and only then: a patch elsewhere keeps the selected subtree's
 * identity). The selector should return a part of `client.state` or of a
 * stream, or a primitive, not a new object each call.
 *
 * @example
 * function Bias({ channel }) {
 *   const volts = useLabLink((client) => client.state?.channels[channel].bias_voltage);
 *   return <span>{volts} V</span>;
 * }
 *
 * @template T
 * @param {(client: LabLinkClient) => T} selector
 * @param {LabLinkClient} [client] instead of the one of `LabLinkProvider`
 * @returns {T}
 * @throws {Error} when there is no client
 */
export function useLabLink(selector, client) {
  const provided = useContext(LabLinkContext);
  const source = client ?? provided;
  if (!source) {
    throw new Error('useLabLink needs a LabLinkClient: render it inside <LabLinkProvider client={…}> or pass one');
  }
  const subscribe = useCallback((/** @type {() => void} */ onChange) => onAnyChange(source, onChange), [source]);
  const snapshot = () => selector(source);
  return useSyncExternalStore(subscribe, snapshot, snapshot);
}
