/**
 * The part of `node:crypto` the workerd tests compute digests with, apart
 * from the Web Crypto code they check (workerd provides the module under
 * `nodejs_compat`; the Workers types do not declare it).
 */
declare module 'node:crypto' {
  interface Hash {
    update(data: string, encoding?: 'utf8'): Hash;
    digest(encoding: 'hex'): string;
  }
  export function createHash(algorithm: 'sha256'): Hash;
  export function createHmac(algorithm: 'sha256', key: string): Hash;
}
