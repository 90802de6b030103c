import type { ClientAddressHeader, Policy } from '../policy/schema';
import { canonicalAddress } from '../request/client-ip';

/**
 * Hop-by-hop headers (RFC 9110 §7.6.1 and §7.8, RFC 9112 §6.1), meant for the
 * connection to the worker and not the origin, and `Proxy-Authorization`,
 * credentials for a proxy that no origin should see.
 */
const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'proxy-authorization'];

/** A header name (an RFC 9110 token). */
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** The headers that carry a client address, as `Headers` spells them. */
const ADDRESS_HEADERS = ['x-forwarded-for', 'x-real-ip', 'forwarded'];

/**
 * Removes what a proxy must not forward: the hop-by-hop headers, and every
 * header the `Connection` header names (RFC 9110 §7.6.1).
 *
 * @example
 * const headers = new Headers({ Connection: 'close, X-Hop', 'X-Hop': '1', Accept: '*' });
 * dropHopByHop(headers); // only Accept is left
 */
export function dropHopByHop(headers: Headers): void {
  const connection = headers.get('connection');
  if (connection) {
    for (const option of connection.split(',')) {
      const name = option.trim();
      if (TOKEN.test(name)) headers.delete(name);
    }
  }
  for (const name of HOP_BY_HOP) headers.delete(name);
}

/** How the origin is told the client's address: a policy's `forwardClientAddress`, and whether a proxy's chain is kept. */
export interface ClientAddressForwarding {
  /** The headers to set; `false` leaves the client's own as they came. */
  readonly headers: readonly ClientAddressHeader[] | false;
  /** Keep the `X-Forwarded-For` chain that arrived: the policy trusts the proxy in front to have written it. */
  readonly keepChain: boolean;
}

/** The forwarding a policy asks for, worked out once when its limiter is built. */
export function forwardingOf(policy: Pick<Policy, 'forwardClientAddress' | 'clientIp'>): ClientAddressForwarding {
  return { headers: policy.forwardClientAddress, keepChain: policy.clientIp.trustedProxyHeader === 'X-Forwarded-For' };
}

/** What a policy that says nothing asks for: `X-Forwarded-For` and `X-Real-IP`, no proxy trusted. */
export const DEFAULT_FORWARDING: ClientAddressForwarding = Object.freeze({
  headers: Object.freeze(['X-Forwarded-For', 'X-Real-IP'] as const),
  keepChain: false,
});

/** An RFC 7239 `for=` element: IPv6 quoted and in brackets. */
export function forwardedFor(address: string): string {
  return address.includes(':') ? `for="[${address}]"` : `for=${address}`;
}

/**
 * Tells the origin the address the limiter used. The client's own
 * `X-Forwarded-For`, `X-Real-IP` and `Forwarded` are dropped first, so the
 * origin can rely on what arrives; only when the policy trusts a proxy's
 * `X-Forwarded-For` is that chain kept, with the address appended, so its
 * last entry is always the address the limiter used. Without an address,
 * nothing is set.
 *
 * @example
 * setClientAddress(headers, '2001:db8::1', { headers: ['X-Real-IP', 'Forwarded'], keepChain: false });
 * // X-Real-IP: 2001:db8::1, Forwarded: for="[2001:db8::1]"
 */
export function setClientAddress(headers: Headers, address: string | undefined, forwarding: ClientAddressForwarding): void {
  if (forwarding.headers === false) return;
  const chain = forwarding.keepChain ? headers.get('x-forwarded-for')?.trim() : undefined;
  for (const name of ADDRESS_HEADERS) headers.delete(name);
  const canonical = address === undefined ? undefined : canonicalAddress(address);
  if (canonical === undefined) return;
  for (const name of forwarding.headers) {
    if (name === 'X-Forwarded-For') headers.set(name, chain ? `${chain}, ${canonical}` : canonical);
    else if (name === 'X-Real-IP') headers.set(name, canonical);
    else headers.set(name, forwardedFor(canonical));
  }
}
