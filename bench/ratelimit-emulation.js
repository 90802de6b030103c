// The Workers Rate Limiting binding as wrangler dev / miniflare emulate it
// locally, re-hosted in plain workerd: the binding (miniflare's
// ratelimit.worker.js, wrapped around `fetcher`) posts each `limit()` call to
// this service, which forwards it to one SQLite-backed object keeping a
// counter per key and period, as miniflare's RateLimiterObject does.
// Production runs the binding on in-colo counters that are not available
// locally; this is the closest runnable stand-in.
import { DurableObject } from 'cloudflare:workers';

const stats = { doCalls: 0, rowsWritten: 0 };

export class RateLimiterObject extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    this.ctx.storage.sql.exec(
      'CREATE TABLE IF NOT EXISTS buckets (key TEXT NOT NULL, period INTEGER NOT NULL, epoch INTEGER NOT NULL, count INTEGER NOT NULL, PRIMARY KEY (key, period))',
    );
  }

  async fetch(request) {
    const sql = this.ctx.storage.sql;
    if (request.method === 'GET') return Response.json({ rows: sql.exec('SELECT COUNT(*) AS n FROM buckets').one().n });
    const { key, limit, period } = await request.json();
    const epoch = Math.floor(Date.now() / (period * 1000));
    const bucket = sql.exec('SELECT epoch, count FROM buckets WHERE key = ? AND period = ?', key, period).toArray()[0];
    let count = 0;
    if (bucket !== undefined && bucket.epoch === epoch) count = bucket.count;
    else sql.exec('DELETE FROM buckets WHERE period = ? AND epoch != ?', period, epoch);
    if (count >= limit) return Response.json({ success: false });
    sql.exec('INSERT OR REPLACE INTO buckets (key, period, epoch, count) VALUES (?, ?, ?, ?)', key, period, epoch, count + 1);
    stats.rowsWritten++;
    return Response.json({ success: true });
  }
}

export default {
  async fetch(request, env) {
    const { pathname } = new URL(request.url);
    if (pathname === '/stats') {
      const { rows } = await (await env.OBJECT.getByName('ratelimit').fetch('http://rl/rows')).json();
      return Response.json({ ...stats, rowsAlive: rows });
    }
    if (pathname === '/reset') {
      stats.doCalls = 0;
      stats.rowsWritten = 0;
      return Response.json({ ok: true });
    }
    stats.doCalls++;
    return env.OBJECT.getByName('ratelimit').fetch(request);
  },
};
