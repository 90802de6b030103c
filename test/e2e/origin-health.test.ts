import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DevServer, startDev } from './support/wrangler-dev';

/** An origin the test switches between healthy, failing (500) and slow (1.5 s), counting the requests that reach it. */
interface SwitchableOrigin {
  mode: 'healthy' | 'failing' | 'slow';
  hits: number;
  readonly url: string;
  close(): Promise<void>;
}

async function startSwitchableOrigin(): Promise<SwitchableOrigin> {
  const state = { mode: 'healthy' as SwitchableOrigin['mode'], hits: 0 };
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      state.hits++;
      const answer = () => {
        res.writeHead(state.mode === 'failing' ? 500 : 200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ mode: state.mode }));
      };
      if (state.mode === 'slow') setTimeout(answer, 1500);
      else answer();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  return Object.assign(state, {
    url,
    close: () => new Promise<void>((r) => server.close(() => r())),
  }) as SwitchableOrigin;
}

let origin: SwitchableOrigin;
let dev: DevServer;
beforeAll(async () => {
  origin = await startSwitchableOrigin();
  dev = await startDev([], { POLICY: 'origin-health', ORIGIN_URL: origin.url });
}, 90_000);
afterAll(async () => {
  await dev?.stop();
  await origin?.close();
});

/** What one phase of steady traffic came to: requests that reached the origin, and the answers the client got. */
interface Phase {
  readonly reached: number;
  readonly statuses: Record<number, number>;
  readonly capacityRefusals: number;
  readonly problemTypes: Set<string>;
}

/** `senders` clients in parallel, each sending requests one after another from one address, for `ms`. */
async function phase(ms: number, senders: number, ip: string): Promise<Phase> {
  const before = origin.hits;
  const statuses: Record<number, number> = {};
  const problemTypes = new Set<string>();
  let capacityRefusals = 0;
  const until = Date.now() + ms;
  await Promise.all(
    Array.from({ length: senders }, async () => {
      while (Date.now() < until) {
        const response = await fetch(`${dev.url}/items`, { headers: { 'CF-Connecting-IP': ip } });
        statuses[response.status] = (statuses[response.status] ?? 0) + 1;
        if (response.headers.get('Content-Type') === 'application/problem+json') {
          problemTypes.add(((await response.json()) as { type: string }).type);
          if (response.headers.get('RateLimit-Reason') === 'capacity') capacityRefusals++;
        } else await response.arrayBuffer();
      }
    }),
  );
  return { reached: origin.hits - before, statuses, capacityRefusals, problemTypes };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const CAPACITY = 'https://iana.org/assignments/http-problem-types#temporary-reduced-capacity';

describe('wrangler dev with limits that follow the origin health (POLICY=origin-health)', () => {
  it('lets fewer requests reach a failing origin, and more again once it recovers', async () => {
    const ip = '203.0.113.90';
    // The first requests start the key's object and the connections.
    await phase(2000, 2, '203.0.113.91');
    const healthy = await phase(3000, 4, ip);
    origin.mode = 'failing';
    // The first second's answers make the first cut; the phase measured starts after it.
    await phase(1500, 4, ip);
    const failing = await phase(4000, 4, ip);
    origin.mode = 'healthy';
    // Eight recovery steps of 2 s take the factor from its floor (0.2) back to 1.
    await sleep(16_500);
    const recovered = await phase(3000, 4, ip);

    const perSecond = (p: Phase, ms: number) => p.reached / (ms / 1000);
    const rates = { healthy: perSecond(healthy, 3000), failing: perSecond(failing, 4000), recovered: perSecond(recovered, 3000) };
    console.log('origin requests per second by phase', rates, {
      healthy: healthy.statuses,
      failing: failing.statuses,
      recovered: recovered.statuses,
    });

    // Healthy: up to the full 5 a second per address reach the origin (the rest are 429s).
    expect(healthy.capacityRefusals).toBe(0);
    // Failing: the limit is cut, and the requests it sheds get a 503 temporary-reduced-capacity.
    expect(rates.failing).toBeLessThan(rates.healthy * 0.6);
    expect(failing.capacityRefusals).toBeGreaterThan(0);
    expect(failing.problemTypes.has(CAPACITY)).toBe(true);
    // Recovered: back near the full limit, with nothing shed.
    expect(rates.recovered).toBeGreaterThan(rates.failing * 1.5);
    expect(recovered.capacityRefusals).toBe(0);
  }, 60_000);

  it('sheds while the origin is slow, and stops shedding once it is fast again', async () => {
    const ip = '203.0.113.92';
    origin.mode = 'slow';
    // Twelve clients at 1.5 s an answer offer about 8 requests a second: more than the full limit of 5.
    const slow = await phase(6000, 12, ip);
    origin.mode = 'healthy';
    await sleep(16_500);
    const fast = await phase(3000, 4, ip);
    console.log('slow then fast', { slow: slow.statuses, fast: fast.statuses });
    expect(slow.capacityRefusals).toBeGreaterThan(0);
    expect(fast.capacityRefusals).toBe(0);
    expect(fast.reached / 3).toBeGreaterThan(slow.reached / 6);
  }, 60_000);
});
