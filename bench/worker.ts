/**
 * The benchmark's worker: one bundle serving every variant, selected by the
 * first path segment, in front of the same origin.
 *
 * - `/pass/...`: the worker without limiting (forward only), the ceiling;
 * - `/exact/...`: this project's limiter, exact mode (every request asks the key's object);
 * - `/lease/...`: the same policy with hot-key leases;
 * - `/concurrent/...`: the same windows with a concurrency limit beside them in each rule (a check, then a release per request);
 * - `/nowrite/...`: exact mode whose object never stores its rows, the floor of exact mode's latency without writes;
 * - `/binding/...`: the Workers Rate Limiting binding (`env.RL_*.limit({ key })`);
 * - `/peer/...`: `hono-rate-limiter` with `@hono-rate-limiter/cloudflare`'s Durable Object store;
 * - `/rpc/...`, `/rpcwrite/...`: forwarding after a bare object call (none, or one row written), the floor of any design calling an object per request;
 *   `/rpcwrite/per-key` calls an object per client address;
 * - `/rpccount/...`: forwarding after one object call that counts the request in a fixed window, with the two IETF headers: the floor of
 *   any exact limiter (an object call per request that decides);
 * - `/memory/...`: forwarding after counting in a Map of the isolate and adding the two IETF headers, the floor of any limiter that answers with rate-limit headers;
 * - `/garbage/<n>/...`: forwarding after allocating `n` small objects that die at once (about 80 bytes each), a control for
 *   what allocation alone does to the tail (`bench/tail.mjs`); `/rpcgarbage/<n>/...` allocates the same before a bare object call.
 *
 * The second segment picks the limit: `open` (never reached; a one-hour
 * window, so clean-up alarms of thousands of keys do not fire in the middle
 * of other measurements; the binding's longest period is a minute) or `tight`
 * (`TIGHT_LIMIT` per minute) or `short` (`TIGHT_LIMIT` per 3 s, 10 s for the
 * binding, whose shortest period that is; for the clean-up check). Keys come from `CF-Connecting-IP`.
 *
 * Cost counters (object calls, rows written, rows alive, alarms pending) are
 * kept by wrappers that exist only in this bundle, and read or reset on
 * `/__bench/stats` and `/__bench/reset`.
 */
import { DurableObjectRateLimiter, DurableObjectStore } from '@hono-rate-limiter/cloudflare';
import { type Context, Hono } from 'hono';
import { rateLimiter as honoRateLimiter } from 'hono-rate-limiter';
import { RateLimiter } from '../src/durable-object/rate-limiter';
import { forwardToOrigin } from '../src/http/forward';
import { rateLimit } from '../src/http/middleware';
import type { PolicyInput } from '../src/policy/schema';
import type { PackedDecision } from '../src/protocol/wire';
import limits from './limits.json';

const TIGHT_LIMIT = limits.tightLimit;
const OPEN_LIMIT = 1_000_000_000;
const LEASE = { size: limits.leaseSize, ttl: '1s' };

type Variant = 'exact' | 'lease' | 'concurrent' | 'nowrite' | 'peer' | 'binding';
const VARIANTS: Variant[] = ['exact', 'lease', 'concurrent', 'nowrite', 'peer', 'binding'];

interface Counters {
  doCalls: number;
  rowsWritten: number;
}
const counters: Record<Variant, Counters> = Object.fromEntries(VARIANTS.map((v) => [v, { doCalls: 0, rowsWritten: 0 }])) as Record<
  Variant,
  Counters
>;
/** Rows alive and alarm pending, per object, per class. */
const live: Record<'ours' | 'peer', Map<string, { rows: Set<string>; alarm: boolean; seq: number }>> = { ours: new Map(), peer: new Map() };
let objectSeq = 0;
/** Which of our variants is being driven: both use the same object class. */
let ourVariant: OurVariant = 'exact';
type OurVariant = 'exact' | 'lease' | 'concurrent' | 'nowrite';

/**
 * The variant a row of our object class belongs to: its rule's name starts
 * with the variant's (`limit:lease-open/0`, `ban:exact-tight`). A write can
 * come seconds after its variant was driven (a reservation settling), so it is
 * counted by its row, not by the variant being driven when it happens.
 */
function variantOfRow(row: string): OurVariant {
  const rule = row.slice(row.indexOf(':') + 1);
  if (rule.startsWith('lease-')) return 'lease';
  if (rule.startsWith('concurrent-')) return 'concurrent';
  if (rule.startsWith('nowrite-')) return 'nowrite';
  if (rule.startsWith('exact-')) return 'exact';
  return ourVariant;
}

function liveEntry(kind: 'ours' | 'peer', id: string) {
  let entry = live[kind].get(id);
  if (!entry) live[kind].set(id, (entry = { rows: new Set(), alarm: false, seq: ++objectSeq }));
  return entry;
}

/** Wraps an object's storage so rows written, rows alive and alarms are counted. */
function instrument(ctx: DurableObjectState, kind: 'ours' | 'peer', variantOf: (row: string) => Counters): void {
  const id = ctx.id.toString();
  const storage = ctx.storage as DurableObjectStorage & Record<string, unknown>;
  const entry = () => liveEntry(kind, id);
  const kv = storage.kv as unknown as Record<string, (...args: unknown[]) => unknown>;
  const kvPut = kv.put!.bind(kv);
  const kvDelete = kv.delete!.bind(kv);
  kv.put = (key, value) => {
    // The `nowrite` variant's rows are decided in memory and never stored: exact mode without its writes, a floor for its latency.
    if (kind === 'ours' && variantOfRow(key as string) === 'nowrite') return undefined;
    variantOf(key as string).rowsWritten++;
    entry().rows.add(key as string);
    return kvPut(key, value);
  };
  kv.delete = (key) => {
    entry().rows.delete(key as string);
    return kvDelete(key);
  };
  const put = storage.put.bind(storage) as (...args: unknown[]) => Promise<void>;
  storage.put = ((key: string, value: unknown) => {
    variantOf(key).rowsWritten++;
    entry().rows.add(key);
    return put(key, value);
  }) as DurableObjectStorage['put'];
  const deleteAll = storage.deleteAll.bind(storage);
  storage.deleteAll = (async (...args: Parameters<DurableObjectStorage['deleteAll']>) => {
    entry().rows.clear();
    return deleteAll(...args);
  }) as DurableObjectStorage['deleteAll'];
  const setAlarm = storage.setAlarm.bind(storage);
  storage.setAlarm = ((time: number | Date) => {
    entry().alarm = true;
    return setAlarm(time);
  }) as DurableObjectStorage['setAlarm'];
  const deleteAlarm = storage.deleteAlarm.bind(storage);
  storage.deleteAlarm = (() => {
    entry().alarm = false;
    return deleteAlarm();
  }) as DurableObjectStorage['deleteAlarm'];
}

/** {@link RateLimiter} with its storage counted. */
export class BenchRateLimiter extends RateLimiter {
  constructor(ctx: DurableObjectState, env: Env) {
    instrument(ctx, 'ours', (row) => counters[variantOfRow(row)]);
    super(ctx, env);
  }
  override async alarm(): Promise<void> {
    liveEntry('ours', this.ctx.id.toString()).alarm = false;
    return super.alarm();
  }

  /**
   * The floor of any per-request object call: a round trip that does
   * nothing. `store` adds what a new key's first call may do, to take the
   * cost of a new object apart (`bench/new-objects.mjs`): `row` writes one
   * row, `alarm` sets an alarm an hour ahead.
   */
  ping(store: readonly string[] = []): number {
    if (store.includes('row')) this.ctx.storage.kv.put('ping', [Date.now(), ++this.pings]);
    if (store.includes('alarm')) void this.ctx.storage.setAlarm(Date.now() + 3_600_000);
    return 1;
  }

  private pings = 0;

  /**
   * The least an exact limiter's object can do per request: count it in a
   * fixed window held in memory, and answer whether it fits, what is left and
   * when the window ends, as three numbers.
   */
  countInWindow(now: number, limit: number, windowMs: number): [number, number, number] {
    const start = now - (now % windowMs);
    if (this.window.start !== start) this.window = { start, used: 0 };
    const allowed = this.window.used < limit;
    if (allowed) this.window.used++;
    return [allowed ? 1 : 0, limit - this.window.used, start + windowMs];
  }

  private window = { start: 0, used: 0 };

  /**
   * A round trip that persists one row, as counting a request must. The value
   * changes on every call: storage skips rewriting an unchanged value, so a
   * clock that reads the same within a millisecond would understate the floor.
   */
  pingWrite(now: number): number {
    this.ctx.storage.kv.put('ping', [now, ++this.pings]);
    return 1;
  }
}

/** The npm peer's object with its storage counted. */
export class BenchPeerLimiter extends DurableObjectRateLimiter {
  constructor(ctx: DurableObjectState, env: unknown) {
    instrument(ctx, 'peer', () => counters.peer);
    super(ctx, env as never);
  }
  override async alarm(): Promise<void> {
    liveEntry('peer', this.ctx.id.toString()).alarm = false;
    return super.alarm();
  }
}

/** A concurrency limit the open rules never reach (32 connections), and one the tight rules do. */
const IN_FLIGHT = { open: 1000, tight: 8 };

function policy(name: string, lease: boolean, concurrent = false): PolicyInput {
  const extra = lease ? { lease: LEASE } : {};
  const slots = (limit: number) => (concurrent ? [{ algorithm: 'concurrency' as const, limit }] : []);
  return {
    name,
    onError: { mode: 'open', timeoutMs: 5_000 },
    response: { headers: ['ietf'], body: 'problem' },
    rules: [
      {
        name: `${name}-open`,
        match: { paths: [`/${name}/open/*`] },
        key: 'ip',
        ...extra,
        limits: [{ limit: OPEN_LIMIT, window: '1h' }, ...slots(IN_FLIGHT.open)],
      },
      {
        name: `${name}-tight`,
        match: { paths: [`/${name}/tight/*`] },
        key: 'ip',
        ...extra,
        limits: [{ limit: TIGHT_LIMIT, window: '1m' }, ...slots(IN_FLIGHT.tight)],
      },
      {
        name: `${name}-short`,
        match: { paths: [`/${name}/short/*`] },
        key: 'ip',
        ...extra,
        limits: [{ limit: TIGHT_LIMIT, window: '3s' }, ...slots(IN_FLIGHT.tight)],
      },
    ],
  };
}

/**
 * How exact mode's object call is made, switched by `/__bench/cpu` only:
 * `real` (the limiter's own call), `bare` (a call that carries nothing and
 * decides nothing, answered with the key's last real answer) or `none` (no
 * call, the last real answer at once). Their differences split what exact
 * mode costs into the path around the call, the round trip, and what the
 * call carries and decides.
 */
type CallMode = 'real' | 'bare' | 'none';
let callMode: CallMode = 'real';
let lastAnswer: PackedDecision | undefined;

function substituteCall(stub: DurableObjectStub<BenchRateLimiter>, now: number, spec: string): Promise<PackedDecision> {
  const answer = lastAnswer;
  if (!answer) return stub.checkPacked(now, spec).then((real) => (lastAnswer = real));
  return callMode === 'bare' ? stub.ping().then(() => answer) : Promise.resolve(answer);
}

/**
 * A stub of our object class with each call counted for the variant being
 * driven. One small object per stub: the wrapper must not add to what
 * exact mode's path is measured to allocate (bench/tail.mjs).
 */
class CountedStub {
  constructor(private readonly stub: DurableObjectStub<BenchRateLimiter>) {}
  check(request: Parameters<RateLimiter['check']>[0]) {
    counters[ourVariant].doCalls++;
    return this.stub.check(request);
  }
  checkPacked(now: number, spec: string) {
    counters[ourVariant].doCalls++;
    return callMode === 'real' ? this.stub.checkPacked(now, spec) : substituteCall(this.stub, now, spec);
  }
  release(now: number, releases: Parameters<RateLimiter['release']>[1]) {
    counters[ourVariant].doCalls++;
    return this.stub.release(now, releases);
  }
  lease(request: Parameters<RateLimiter['lease']>[0]) {
    counters[ourVariant].doCalls++;
    return this.stub.lease(request);
  }
  checkBatch(requests: Parameters<RateLimiter['checkBatch']>[0]) {
    counters[ourVariant].doCalls++;
    return this.stub.checkBatch(requests);
  }
}

/** Our object namespace, with calls counted for the variant being driven. */
function countedOurs(namespace: DurableObjectNamespace<BenchRateLimiter>) {
  return { getByName: (name: string) => new CountedStub(namespace.getByName(name)) };
}

/** The peer's namespace, with calls counted. */
function countedPeer(namespace: DurableObjectNamespace) {
  return {
    idFromName: (name: string) => namespace.idFromName(name),
    get(id: DurableObjectId) {
      const stub = namespace.get(id) as unknown as Record<string, (...args: unknown[]) => unknown>;
      const call =
        (method: string) =>
        (...args: unknown[]) => (counters.peer.doCalls++, stub[method]!(...args));
      return { value: call('value'), update: call('update'), reset: call('reset') };
    },
  };
}

interface BenchEnv {
  RATE_LIMITER: DurableObjectNamespace<BenchRateLimiter>;
  PEER: DurableObjectNamespace;
  RL_OPEN: RateLimit;
  RL_TIGHT: RateLimit;
  RL_SHORT: RateLimit;
  RL_STATS: Fetcher;
  ORIGIN_URL: string;
}

const exact = rateLimit({ policy: policy('exact', false) });
const leased = rateLimit({ policy: policy('lease', true) });
const concurrent = rateLimit({ policy: policy('concurrent', false, true) });
// Exact mode whose object never stores its rows (see `instrument`): what exact mode's latency would be without any write.
const unwritten = rateLimit({ policy: policy('nowrite', false) });
// Exact mode with the traffic record on: one log line per request, for `npm run bench:cpu`'s cost of recording.
const recorded = rateLimit({ policy: { ...policy('recorded', false), trafficRecord: {} } });
let ourEnv: Record<string, unknown> | undefined;
let peers: Record<string, ReturnType<typeof honoRateLimiter>> | undefined;

const ip = (c: Context) => c.req.header('CF-Connecting-IP') ?? '';
const forward = (c: Context<{ Bindings: BenchEnv }>) => forwardToOrigin(c, { originUrl: c.env.ORIGIN_URL });

const app = new Hono<{ Bindings: BenchEnv }>();

app.get('/__bench/stats', async (c) => {
  const binding = (await (await c.env.RL_STATS.fetch('http://rl/stats')).json()) as Counters;
  const since = Number(c.req.query('since') ?? 0);
  const liveOf = (kind: 'ours' | 'peer') => {
    let rows = 0;
    let alarms = 0;
    for (const entry of live[kind].values()) {
      if (entry.seq <= since) continue;
      rows += entry.rows.size;
      alarms += entry.alarm ? 1 : 0;
    }
    return { rows, alarms, objects: live[kind].size };
  };
  return c.json({ counters: { ...counters, binding }, live: { ours: liveOf('ours'), peer: liveOf('peer') }, objectSeq });
});
app.post('/__bench/reset', async (c) => {
  for (const v of VARIANTS) counters[v] = { doCalls: 0, rowsWritten: 0 };
  await c.env.RL_STATS.fetch('http://rl/reset', { method: 'POST' });
  return c.json({ ok: true });
});

/**
 * CPU per request without concurrency: sends `n` requests for the path after
 * the mode, one after the other, through this worker in this request, with
 * exact mode's object call made as `mode` says (see {@link CallMode}).
 * `bench/cpu.mjs` reads workerd's CPU time around it.
 */
app.get('/__bench/cpu/:n/:mode/*', async (c) => {
  const n = Number(c.req.param('n'));
  const mode = c.req.param('mode');
  if (!Number.isInteger(n) || n < 1 || n > 100_000) return c.json({ error: 'n: an integer from 1 to 100000' }, 400);
  if (mode !== 'real' && mode !== 'bare' && mode !== 'none') return c.json({ error: 'mode: real, bare or none' }, 400);
  const path = `/${c.req.path.split('/').slice(5).join('/')}`;
  const address = c.req.header('cf-connecting-ip') ?? '198.51.100.250';
  let ok = 0;
  callMode = mode;
  try {
    for (let i = 0; i < n; i++) {
      const response = await app.fetch(
        new Request(`http://bench.local${path}`, { headers: { 'cf-connecting-ip': address } }),
        c.env,
        c.executionCtx,
      );
      await response.arrayBuffer();
      if (response.status === 200) ok++;
    }
  } finally {
    callMode = 'real';
  }
  return c.json({ ok });
});

app.all('/pass/*', forward);
/** Where `/garbage/` leaves its last object, so the engine cannot drop the allocations. */
let lastGarbage: unknown;
app.use('/garbage/:objects/*', async function garbage(c, next) {
  const objects = Number(c.req.param('objects'));
  for (let i = 0; i < objects; i++) lastGarbage = { i, list: [i, i + 1, i + 2], previous: lastGarbage === undefined };
  await next();
});
app.all('/garbage/:objects/*', forward);

// Floors: forward after a bare object call, and after one that writes a row.
// Per key, each client address calls its own object (for never-seen keys, a new one per request);
// these routes come before the catch-alls below, which call one object for every request.
app.all('/rpc/per-key', async (c) => {
  const store = c.req.query('store')?.split(',') ?? [];
  await c.env.RATE_LIMITER.getByName(`rpc-bare-key=${ip(c)}`).ping(store);
  return forward(c);
});
app.all('/rpc/*', async (c) => {
  await c.env.RATE_LIMITER.getByName('rpc-floor').ping();
  return forward(c);
});
// The garbage control beside a bare object call: the same small objects, dead before the call is made.
app.all('/rpcgarbage/:objects/*', async function garbageThenCall(c) {
  const objects = Number(c.req.param('objects'));
  for (let i = 0; i < objects; i++) lastGarbage = { i, list: [i, i + 1, i + 2], previous: lastGarbage === undefined };
  await c.env.RATE_LIMITER.getByName('rpc-floor').ping();
  return forward(c);
});
app.all('/rpcwrite/per-key', async (c) => {
  // The floor for many keys: an object per client address, writing one row per call.
  await c.env.RATE_LIMITER.getByName(`rpc-key=${ip(c)}`).pingWrite(Date.now());
  return forward(c);
});
app.all('/rpcwrite/*', async (c) => {
  await c.env.RATE_LIMITER.getByName('rpc-floor').pingWrite(Date.now());
  return forward(c);
});

// The floor of an exact limiter: one object call that counts the request in a window (`countInWindow`),
// a 429 when it does not fit, and the two IETF headers on the response. No policy, no rules, no settling.
app.use('/rpccount/*', async function counted(c, next) {
  const now = Date.now();
  const [allowed, remaining, resetAt] = await c.env.RATE_LIMITER.getByName(`rpccount=${ip(c)}`).countInWindow(now, OPEN_LIMIT, 3_600_000);
  if (!allowed) return c.text('Too many requests', 429);
  await next();
  c.res.headers.append('RateLimit-Policy', `"count";q=${OPEN_LIMIT};w=3600`);
  c.res.headers.append('RateLimit', `"count";r=${remaining};t=${Math.ceil((resetAt - now) / 1000)}`);
});
app.all('/rpccount/*', forward);

// The floor of a limiter that answers with headers: a fixed-window count in isolate memory, shared by nobody.
const memoryCounts = new Map<string, { windowStart: number; used: number }>();
app.use('/memory/*', async function memory(c, next) {
  const now = Date.now();
  const windowStart = now - (now % 3_600_000);
  const key = ip(c);
  let count = memoryCounts.get(key);
  if (!count || count.windowStart !== windowStart) memoryCounts.set(key, (count = { windowStart, used: 0 }));
  if (count.used >= OPEN_LIMIT) return c.text('Too many requests', 429);
  count.used++;
  await next();
  c.res.headers.append('RateLimit-Policy', `"memory";q=${OPEN_LIMIT};w=3600`);
  c.res.headers.append('RateLimit', `"memory";r=${OPEN_LIMIT - count.used};t=${Math.ceil((windowStart + 3_600_000 - now) / 1000)}`);
});
app.all('/memory/*', forward);

for (const [name, limiter, variant] of [
  ['exact', exact, 'exact'],
  ['lease', leased, 'lease'],
  ['concurrent', concurrent, 'concurrent'],
  ['nowrite', unwritten, 'nowrite'],
  ['recorded', recorded, 'exact'],
] as const) {
  app.use(`/${name}/*`, async function ours(c, next) {
    ourVariant = variant;
    ourEnv ??= { ...c.env, RATE_LIMITER: countedOurs(c.env.RATE_LIMITER) };
    c.env = ourEnv as never;
    return limiter(c, next);
  });
  app.all(`/${name}/*`, forward);
}

app.use('/binding/*', async function binding(c, next) {
  const tier = c.req.path.split('/')[2];
  const limiter = tier === 'tight' ? c.env.RL_TIGHT : tier === 'short' ? c.env.RL_SHORT : c.env.RL_OPEN;
  const { success } = await limiter.limit({ key: ip(c) });
  if (!success) return c.text('Too many requests', 429);
  await next();
});
app.all('/binding/*', forward);

app.use('/peer/*', async function peer(c, next) {
  peers ??= Object.fromEntries(
    (
      [
        ['open', OPEN_LIMIT, 3_600_000],
        ['tight', TIGHT_LIMIT, 60_000],
        ['short', TIGHT_LIMIT, 3_000],
      ] as const
    ).map(([tier, limit, windowMs]) => [
      tier,
      honoRateLimiter({
        windowMs,
        limit,
        keyGenerator: (ctx) => `${tier}:${ip(ctx)}`,
        store: new DurableObjectStore({ namespace: countedPeer(c.env.PEER) as never }),
      }),
    ]),
  );
  const limiter = peers[c.req.path.split('/')[2] ?? 'open'] ?? peers.open!;
  return limiter(c as never, next);
});
app.all('/peer/*', forward);

export default app;
