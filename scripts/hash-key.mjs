// `npm run -s hash-key -- <credential>`: the SHA-256 hex digest the limiter keys a credential by
// (identity records, list entries and overrides name credentials this way, never raw).
import { createHash } from 'node:crypto';

const credential = process.argv[2];
if (!credential) {
  console.error('usage: npm run -s hash-key -- <credential>');
  process.exit(2);
}
console.log(createHash('sha256').update(credential, 'utf8').digest('hex'));
