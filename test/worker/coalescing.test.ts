import { exports } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';

// The test runner turns cross-request promise resolution off, as an old compatibility date would:
// requests then cannot wait for each other's calls, and each must still be decided exactly.
describe('concurrent requests to one key through the worker, where requests cannot wait for each other', () => {
  it('admit exactly the limit, each answered with its own headers', async () => {
    // The default policy: 10 requests per minute per client IP.
    const responses = await Promise.all(
      Array.from({ length: 40 }, () =>
        exports.default.fetch('http://api.example.test/coalesced', { headers: { 'CF-Connecting-IP': '192.0.2.77' } }),
      ),
    );
    const admitted = responses.filter((r) => r.status === 200);
    expect(admitted).toHaveLength(10);
    expect(responses.filter((r) => r.status === 429)).toHaveLength(30);
    const remaining = admitted.map((r) => Number(/r=(\d+)/.exec(r.headers.get('RateLimit') ?? '')?.[1])).sort((a, b) => a - b);
    expect(remaining).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    await Promise.all(responses.map((r) => r.arrayBuffer()));
  });
});
