/**
 * The host name and path of a request's URL, read from its serialised form.
 * `request.url` is already parsed and serialised by the runtime, so its
 * pieces are where the URL standard puts them; reading them there costs
 * less than parsing the URL again. Anything but an `http:` or `https:` URL
 * is parsed in full.
 *
 * @example hostAndPath('https://user@API.example.com:8443/v1/x?q#f') // { hostname: 'api.example.com', pathname: '/v1/x' }
 */
export function hostAndPath(href: string): { hostname: string; pathname: string } {
  const start = href.startsWith('https://') ? 8 : href.startsWith('http://') ? 7 : -1;
  const slash = start < 0 ? -1 : href.indexOf('/', start);
  if (slash < 0) {
    const url = new URL(href);
    return { hostname: url.hostname, pathname: url.pathname };
  }
  let end = href.length;
  const query = href.indexOf('?', slash);
  if (query >= 0) end = query;
  const fragment = href.indexOf('#', slash);
  if (fragment >= 0 && fragment < end) end = fragment;
  // The authority: `[userinfo@]host[:port]`, where a serialised userinfo holds no `@` and an IPv6 host is bracketed.
  const authority = href.slice(href.lastIndexOf('@', slash) + 1 || start, slash);
  const host = authority.startsWith('[') ? authority.slice(0, authority.indexOf(']') + 1) : authority.split(':', 1)[0]!;
  return { hostname: host.toLowerCase(), pathname: href.slice(slash, end) };
}
