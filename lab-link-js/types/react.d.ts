/**
 * Provides `client` to every `useLabLink` below.
 *
 * @example
 * root.render(<LabLinkProvider client={client}><Panel /></LabLinkProvider>);
 *
 * @param {{ client: LabLinkClient, children?: import('react').ReactNode }} props
 */
export function LabLinkProvider({ client, children }: {
    client: LabLinkClient;
    children?: import("react").ReactNode;
}): import("react").FunctionComponentElement<import("react").ProviderProps<import("./client.js").LabLinkClient | null>>;
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
export function useLabLink<T>(selector: (client: LabLinkClient) => T, client?: LabLinkClient): T;
/** @typedef {import('./client.js').LabLinkClient} LabLinkClient */
/** The client `useLabLink` reads when it is not given one. */
export const LabLinkContext: import("react").Context<import("./client.js").LabLinkClient | null>;
export type LabLinkClient = import("./client.js").LabLinkClient;
