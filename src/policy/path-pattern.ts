import { normalizePath } from '../request/normalize-path';

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * A pattern's optional format suffix, as Rails routes one (`(.:format)`):
 * `(.:format)` allows any one format (`.json`, `.yaml`, …), `(.json|yaml)`
 * only those named.
 */
const FORMAT_SUFFIX = /\(\.(?::format|([A-Za-z0-9]+(?:\|[A-Za-z0-9]+)*))\)$/;

/** Why a path pattern (one starting with `/`) cannot be compiled, or `undefined` when it can. */
export function pathPatternError(pattern: string): string | undefined {
  const suffix = FORMAT_SUFFIX.exec(pattern);
  const base = suffix ? pattern.slice(0, suffix.index) : pattern;
  if (/[()]/.test(base)) return 'a format suffix is "(.:format)" or "(.json|yaml)", at the end of the pattern';
  if (suffix && (base === '' || base.endsWith('/') || base.endsWith('/*')))
    return 'a format suffix follows a segment: "/x(.:format)", "/x/:id(.:format)"';
  return undefined;
}

/**
 * Compiles a path pattern into a test on normalised paths.
 * - `/x` matches exactly `/x`;
 * - `/x/*` matches `/x` and everything below it;
 * - `:name` or a `*` in the middle matches one segment;
 * - `*` alone matches every path;
 * - `(.:format)` at the end also matches the path with any format suffix
 *   (`/x.json`, `/x.yaml`), `(.json|yaml)` with those formats only.
 *
 * @example compilePathPattern('/info/*', false)('/info/rails') // true
 * @example compilePathPattern('/api/v1/gems(.:format)', false)('/api/v1/gems.json') // true
 */
export function compilePathPattern(pattern: string, caseSensitive: boolean): (path: string) => boolean {
  if (pattern === '*') return () => true;
  const suffix = FORMAT_SUFFIX.exec(pattern);
  const base = suffix ? pattern.slice(0, suffix.index) : pattern;
  const segments = normalizePath(base, caseSensitive).split('/').slice(1);
  let source = '';
  segments.forEach((segment, i) => {
    const last = i === segments.length - 1;
    if (segment === '*' && last) source += '(?:/.*)?';
    else if (segment === '*' || segment.startsWith(':')) source += '/[^/]+';
    else source += `/${escapeRegExp(segment)}`;
  });
  if (segments.length === 1 && segments[0] === '') source = '/';
  if (suffix) {
    const formats = suffix[1]?.split('|').map((f) => escapeRegExp(caseSensitive ? f : f.toLowerCase()));
    source += formats ? `(?:\\.(?:${formats.join('|')}))?` : '(?:\\.[^/.]+)?';
  }
  const regex = new RegExp(`^${source}$`);
  return (path) => regex.test(path);
}

/** Host patterns: exact names or `*.example.com` (any subdomain, not the apex). */
export function compileHostPattern(pattern: string): (host: string) => boolean {
  const lower = pattern.toLowerCase();
  if (lower.startsWith('*.')) {
    const suffix = lower.slice(1);
    return (host) => host.endsWith(suffix) && host.length > suffix.length;
  }
  return (host) => host === lower;
}
