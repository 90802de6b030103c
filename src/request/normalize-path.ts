const UNRESERVED = /[A-Za-z0-9\-._~]/;

/** Decodes `%XX` escapes of unreserved characters and of `/`, `\` and `.`; leaves others encoded. */
function decodeForMatching(path: string): string {
  return path.replace(/%([0-9A-Fa-f]{2})/g, (escape, hex: string) => {
    const char = String.fromCharCode(parseInt(hex, 16));
    return UNRESERVED.test(char) || char === '/' || char === '\\' ? char : escape.toUpperCase();
  });
}

/**
 * The path a rule matches against: the path the origin most plausibly serves.
 * Percent-encoded unreserved characters and encoded slashes are decoded,
 * backslashes become slashes, `;` path parameters are dropped, repeated
 * slashes collapse, `.` and `..` segments resolve, a trailing slash is dropped, and (unless
 * `caseSensitive`) letters are lower-cased. So `/x/`, `//x`, `/a/../x`,
 * `/%78` and `/X` all match a rule on `/x`.
 *
 * @example normalizePath('/a/..//%78/') // '/x'
 */
export function normalizePath(rawPath: string, caseSensitive = false): string {
  // Decode repeatedly so double encoding (`%2578`) cannot hide a character either.
  let path = rawPath;
  for (let i = 0; i < 3; i++) {
    const decoded = decodeForMatching(path.replace(/%25([0-9A-Fa-f]{2})/g, '%$1'));
    if (decoded === path) break;
    path = decoded;
  }
  path = path.replace(/\\/g, '/');
  const out: string[] = [];
  for (const raw of path.split('/')) {
    // Servlet containers drop `;` path parameters (`/login;x=1` is `/login`, `/..;/` is `/../`).
    const segment = raw.split(';', 1)[0]!;
    if (segment === '' || segment === '.') continue;
    if (segment === '..') out.pop();
    else out.push(segment);
  }
  const normal = `/${out.join('/')}`;
  return caseSensitive ? normal : normal.toLowerCase();
}
