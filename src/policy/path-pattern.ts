import { normalizePath } from '../request/normalize-path';

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Compiles a path pattern into a test on normalised paths.
 * - `/x` matches exactly `/x`;
 * - `/x/*` matches `/x` and everything below it;
 * - `:name` or a `*` in the middle matches one segment;
 * - `*` alone matches every path.
 *
 * @example compilePathPattern('/info/*', false)('/info/rails') // true
 */
export function compilePathPattern(pattern: string, caseSensitive: boolean): (path: string) => boolean {
  if (pattern === '*') return () => true;
  const segments = normalizePath(pattern, caseSensitive).split('/').slice(1);
  let source = '';
  segments.forEach((segment, i) => {
    const last = i === segments.length - 1;
    if (segment === '*' && last) source += '(?:/.*)?';
    else if (segment === '*' || segment.startsWith(':')) source += '/[^/]+';
    else source += `/${escape(segment)}`;
  });
  if (segments.length === 1 && segments[0] === '') source = '/';
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
