const UNRESERVED = /[A-Za-z0-9\-._~]/;
const MAY_DIFFER = /%(?:2f|5c|25)|[\\;]/i;
/** A path every reading leaves as it is (bar case): non-empty segments of plain characters, none of them `.` or `..`. */
const PLAIN = /^(?:\/(?!\.\.?(?:\/|$))[A-Za-z0-9\-._~!$&'()*+,=:@]+)+$/;

/** Decodes `%XX` escapes of unreserved characters, and (`separators`) of `/` and `\`; leaves others encoded. */
function decodeForMatching(path: string, separators: boolean): string {
  return path.replace(/%([0-9A-Fa-f]{2})/g, (encoded, hex: string) => {
    const char = String.fromCharCode(parseInt(hex, 16));
    return UNRESERVED.test(char) || (separators && (char === '/' || char === '\\')) ? char : encoded.toUpperCase();
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
  return normalize(rawPath, caseSensitive, true);
}

/**
 * Every path an origin may serve for `rawPath`: the {@link normalizePath}
 * reading, and the literal one of an origin that keeps encoded slashes and
 * backslashes inside a segment and `;` as part of it (most Node and Go
 * servers), where `/admin/..%2Fusers` stays under `/admin`. A rule applies
 * when either reading matches it, so neither can be used to step around it.
 */
export function pathReadings(rawPath: string, caseSensitive = false): readonly [string] | readonly [string, string] {
  const lenient = normalize(rawPath, caseSensitive, true);
  // The readings differ only where the path holds an escape that may hide a separator, a backslash or a `;`.
  if (!MAY_DIFFER.test(rawPath)) return [lenient];
  const literal = literalReading(rawPath, caseSensitive);
  return literal === lenient ? [lenient] : [lenient, literal];
}

/** The literal reading alone: unreserved escapes decoded and dot segments resolved, `%2F`, `%5C` and `;` kept. */
export function literalReading(rawPath: string, caseSensitive = false): string {
  return normalize(rawPath, caseSensitive, false);
}

function normalize(rawPath: string, caseSensitive: boolean, lenient: boolean): string {
  // Most paths hold nothing to decode, collapse or resolve.
  if (PLAIN.test(rawPath)) return caseSensitive ? rawPath : rawPath.toLowerCase();
  return resolvePath(rawPath, caseSensitive, lenient);
}

/**
 * Every step of a reading, whatever the path holds: the lenient reading
 * (`normalizePath`) or the literal one ({@link literalReading}). Readings
 * take a shortcut for paths with nothing to change; this is what they equal.
 */
export function resolvePath(rawPath: string, caseSensitive: boolean, lenient: boolean): string {
  // Decode repeatedly so double encoding (`%2578`) cannot hide a character either.
  let path = rawPath;
  for (let i = 0; i < 3; i++) {
    const decoded = decodeForMatching(path.replace(/%25([0-9A-Fa-f]{2})/g, '%$1'), lenient);
    if (decoded === path) break;
    path = decoded;
  }
  if (lenient) path = path.replace(/\\/g, '/');
  const out: string[] = [];
  for (const raw of path.split('/')) {
    // Servlet containers drop `;` path parameters (`/login;x=1` is `/login`, `/..;/` is `/../`).
    const segment = lenient ? raw.split(';', 1)[0]! : raw;
    if (segment === '' || segment === '.') continue;
    if (segment === '..') out.pop();
    else out.push(segment);
  }
  const normal = `/${out.join('/')}`;
  return caseSensitive ? normal : normal.toLowerCase();
}
