// Writes synthetic traffic records (the format of src/traffic/record.ts) for trying and
// measuring `npm run replay`: clients keyed by address digest, 40 % of them with a token
// digest, a few heavy clients, logins and failed authentications, spread over `--days`.
//   node bench/traffic-records.mjs --out week.ndjson [--records 2000000] [--days 7] [--seed 1]
import { createWriteStream } from 'node:fs';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    out: { type: 'string' },
    records: { type: 'string', default: '2000000' },
    days: { type: 'string', default: '7' },
    seed: { type: 'string', default: '1' },
  },
});
if (!values.out) {
  console.error('usage: node bench/traffic-records.mjs --out week.ndjson [--records 2000000] [--days 7] [--seed 1]');
  process.exit(2);
}
const total = Number(values.records);
const span = Number(values.days) * 86_400_000;

let a = Number(values.seed) | 0;
const rand = () => {
  a = (a + 0x6d2b79f5) | 0;
  let t = Math.imul(a ^ (a >>> 15), 1 | a);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
};
const hex = (n) => Array.from({ length: n }, () => Math.floor(rand() * 16).toString(16)).join('');

const clients = Array.from({ length: 20_000 }, () => ({ ip: hex(16), token: rand() < 0.4 ? hex(16) : undefined }));
// A skewed pick: a handful of clients send most of the traffic.
const pick = () => clients[Math.floor(clients.length * rand() ** 4)];
const start = Date.UTC(2026, 10, 2);
const out = createWriteStream(values.out);
let time = start;
const step = span / total;
for (let i = 0; i < total; i++) {
  time += step * 2 * rand();
  const c = pick();
  const login = rand() < 0.03;
  const failed = rand() < 0.02;
  const rules = c.token
    ? { 'per-token': 'a', 'per-address': 'a', 'auth-failures': 'a' }
    : { 'per-ip': 'a', 'per-address': 'a', 'auth-failures': 'a' };
  if (login) rules.login = 'a';
  const keys = c.token ? { ip: c.ip, bearer: c.token } : { ip: c.ip };
  const line = {
    event: 'traffic',
    v: 1,
    t: Math.floor(time),
    m: login ? 'POST' : 'GET',
    h: 'api.example.com',
    p: login ? '/login' : `/v1/items/${Math.floor(rand() * 1000)}`,
    tier: c.token ? 'token' : 'anonymous',
    k: keys,
    r: rules,
    d: 'allow',
    s: failed ? 401 : 200,
  };
  if (!out.write(`${JSON.stringify(line)}\n`)) await new Promise((resolve) => out.once('drain', resolve));
}
out.end();
await new Promise((resolve) => out.once('finish', resolve));
console.error(`Wrote ${total} records to ${values.out}.`);
