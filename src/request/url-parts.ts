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
  const start = authorityStart(href);
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

/**
 * The path and query of a request's URL, as `url.pathname + url.search`
 * would give them, read from its serialised form as {@link hostAndPath}
 * reads the path: what the origin is sent is what the rules matched.
 *
 * @example pathAndSearch('https://api.example.com/v1/x?page=2#top') // '/v1/x?page=2'
 */
export function pathAndSearch(href: string): string {
  const slash = pathStart(href);
  if (slash < 0) {
    const url = new URL(href);
    return `${url.pathname}${url.search}`;
  }
  // A serialised path and query percent-encode `#`: the first one starts the fragment.
  const fragment = href.indexOf('#', slash);
  const end = fragment < 0 ? href.length : fragment;
  // An empty query (`/x?`) is no query to the URL parser either.
  const query = href.indexOf('?', slash);
  return href.slice(slash, query === end - 1 ? end - 1 : end);
}

/** Where the authority of an `http:` or `https:` URL starts, or -1 for other URLs. */
function authorityStart(href: string): number {
  return href.startsWith('https://') ? 8 : href.startsWith('http://') ? 7 : -1;
}

/** Where the path of a serialised `http:` or `https:` URL starts, or -1 for other URLs. */
function pathStart(href: string): number {
  const start = authorityStart(href);
  return start < 0 ? -1 : href.indexOf('/', start);
}
