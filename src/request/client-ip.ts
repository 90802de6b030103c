import ipaddr from 'ipaddr.js';

/** A dotted quad as ipaddr.js prints it: four decimal octets 0–255 without leading zeros. */
const CANONICAL_IPV4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

export interface ClientIpSettings {
  readonly trustedProxyHeader?: 'X-Forwarded-For' | 'X-Real-IP' | 'True-Client-IP' | undefined;
  readonly trustedHops: number;
  readonly ipv6Prefix: number;
  readonly ipv4Prefix: number;
}

/** `[IPv6]` with an optional port, or `IPv4:port`: how some proxies (and `$remote_addr:$remote_port` formats) write a hop. */
const BRACKETED = /^\[([^\]]+)\](?::(\d{1,5}))?$/;
const WITH_PORT = /^([^:]+):(\d{1,5})$/;

/**
 * The address in one forwarding-header entry: a bare address, an IPv4
 * address with a port (`198.51.100.10:1234`), or a bracketed IPv6 address
 * with or without one (`[2001:db8::1]:443`). Anything else, or a port above
 * 65535, is `undefined`. An unbracketed IPv6 address is taken whole, since
 * its last group cannot be told from a port.
 *
 * @example entryAddress('[2001:db8::1]:443') // '2001:db8::1'
 */
export function entryAddress(entry: string): string | undefined {
  if (ipaddr.isValid(entry)) return entry;
  const match = BRACKETED.exec(entry) ?? WITH_PORT.exec(entry);
  if (!match || (match[2] !== undefined && Number(match[2]) > 65535)) return undefined;
  const host = match[1]!;
  const bracketed = entry.startsWith('[');
  return (bracketed ? ipaddr.IPv6.isValid(host) : ipaddr.IPv4.isValid(host)) ? host : undefined;
}

/**
 * The address a request is limited by. Cloudflare sets `CF-Connecting-IP`
 * itself, so it is the only source trusted by default; forwarding headers
 * are read only when the policy names a proxy in front as trusted.
 */
export function clientAddress(headers: Headers, settings: ClientIpSettings): string | undefined {
  const header = settings.trustedProxyHeader;
  // A trusted header that holds no address falls back to Cloudflare's: a
  // garbled value must not leave the request without a key (and so unlimited).
  if (header === 'X-Forwarded-For') {
    const hops = (headers.get('x-forwarded-for') ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    const candidate = hops[hops.length - settings.trustedHops];
    const address = candidate && entryAddress(candidate);
    if (address) return address;
  } else if (header) {
    const value = headers.get(header)?.trim();
    const address = value && entryAddress(value);
    if (address) return address;
  }
  return headers.get('cf-connecting-ip')?.trim() || undefined;
}

/**
 * The key form of an address: IPv4 (or IPv4-mapped IPv6) masked to the IPv4
 * prefix, IPv6 masked to its prefix (/64 by default, so a host cannot rotate
 * addresses inside its own allocation). Unparseable input yields `undefined`.
 *
 * @example ipKey('2001:db8::1', { ipv6Prefix: 64, ... }) // '2001:db8::/64'
 */
export function ipKey(address: string, settings: Pick<ClientIpSettings, 'ipv4Prefix' | 'ipv6Prefix'>): string | undefined {
  // The common case, a canonical dotted quad keyed whole, needs no parser.
  if (settings.ipv4Prefix >= 32 && CANONICAL_IPV4.test(address)) return address;
  if (!ipaddr.isValid(address)) return undefined;
  let parsed = ipaddr.parse(address);
  if (parsed.kind() === 'ipv6' && (parsed as ipaddr.IPv6).isIPv4MappedAddress()) parsed = (parsed as ipaddr.IPv6).toIPv4Address();
  if (parsed.kind() === 'ipv4') {
    const prefix = settings.ipv4Prefix;
    if (prefix >= 32) return parsed.toString();
    return `${ipaddr.IPv4.networkAddressFromCIDR(`${parsed.toString()}/${prefix}`).toString()}/${prefix}`;
  }
  const prefix = settings.ipv6Prefix;
  if (prefix >= 128) return (parsed as ipaddr.IPv6).toNormalizedString();
  return `${ipaddr.IPv6.networkAddressFromCIDR(`${parsed.toString()}/${prefix}`).toString()}/${prefix}`;
}

/**
 * An address as the origin is told it: IPv4 as a dotted quad (IPv4-mapped
 * IPv6 too), IPv6 in its short lower-case form without a zone. Unparseable
 * input yields `undefined`.
 *
 * @example canonicalAddress('::FFFF:192.0.2.1') // '192.0.2.1'
 */
export function canonicalAddress(address: string): string | undefined {
  if (CANONICAL_IPV4.test(address)) return address;
  if (!ipaddr.isValid(address)) return undefined;
  const parsed = ipaddr.process(address);
  if (parsed.kind() === 'ipv6') (parsed as ipaddr.IPv6).zoneId = undefined;
  return parsed.toString();
}
