/**
 * The short, non-reversible name of a key in logs, the dashboard and the
 * traffic record: the first 8 bytes of SHA-256 over `<key signature>=<key value>`,
 * in hex. Keys may hold client addresses and credential digests, so no log
 * line carries them.
 *
 * @example
 * await keyDigest('ip=192.0.2.1'); // 16 hex digits
 */
export async function keyDigest(name: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(name));
  return [...new Uint8Array(digest).slice(0, 8)].map((b) => b.toString(16).padStart(2, '0')).join('');
}
