import { describe, expect, it } from 'vitest';
import type { LimitDecision } from '../algorithms/types';
import type { LimitResult, Verdict } from '../engine/verdict';
import type { CompiledRule } from '../policy/compile';
import { type ResponseSettings, responseSchema } from '../policy/schema';
import { refusalResponse } from './refusal';
import { BLOCKED_BODY, unavailableProblem } from './test-support';

const NOW = 1_000_000_000;
const DAY = 86_400_000;

function result(id: string, windowMs: number, retryAfterMs: number): LimitResult {
  const [rule, name] = id.split('/') as [string, string];
  const decision: LimitDecision = { allowed: false, limit: 10, used: 10, remaining: 0, resetAt: NOW + retryAfterMs, retryAfterMs };
  return {
    rule: { name: rule } as CompiledRule,
    limit: { id, name, rule, config: { algorithm: 'fixed-window', limit: 10, windowMs } },
    decision,
    shadow: false,
    counted: true,
  };
}

function settings(overrides: Partial<ResponseSettings> = {}): ResponseSettings {
  return { ...responseSchema.parse({}), ...overrides };
}

function verdict(kind: Verdict['kind'], status: number, results: LimitResult[], refusedBy?: CompiledRule): Verdict {
  const retryAfterMs = Math.max(1000, ...results.map((r) => r.decision.retryAfterMs));
  return {
    kind,
    status,
    results,
    limits: [],
    retryAfterMs,
    view: { method: 'GET' } as Verdict['view'],
    settle: async () => {},
    ...(refusedBy ? { refusedBy } : {}),
  };
}

const rule = (name: string, limitName: string, windowMs: number, response: ResponseSettings) =>
  ({
    name,
    response,
    limits: [{ id: `${name}/${limitName}`, name: limitName, rule: name, config: { algorithm: 'fixed-window', limit: 10, windowMs } }],
  }) as unknown as CompiledRule;

describe('refusalResponse says why a request was refused', () => {
  it('a rate limit: RateLimit-Reason: rate, and the problem body names the limit', async () => {
    const response = refusalResponse(verdict('limit', 429, [result('api/1m', 60_000, 30_000)]), settings(), NOW);
    expect(response.status).toBe(429);
    expect(response.headers.get('RateLimit-Reason')).toBe('rate');
    expect(response.headers.get('RateLimit-Policy')).toBe('"api/1m";q=10;w=60');
    expect(await response.json()).toMatchObject({
      type: 'https://iana.org/assignments/http-problem-types#quota-exceeded',
      status: 429,
      'violated-policies': ['api/1m'],
    });
  });

  it('a daily limit: quota', async () => {
    const response = refusalResponse(
      verdict('limit', 429, [result('api/1m', 60_000, 30_000), result('api/1d', DAY, 7_200_000)]),
      settings(),
      NOW,
    );
    expect(response.headers.get('RateLimit-Reason')).toBe('quota');
    expect(((await response.json()) as Record<string, unknown>)['violated-policies']).toEqual(['api/1m', 'api/1d']);
  });

  it('a fail-closed fault: a 503 with unavailable, naming the limits that could not be asked', async () => {
    const response = refusalResponse(verdict('unavailable', 503, [], rule('per-ip', '1m', 60_000, settings())), settings(), NOW);
    expect(response.status).toBe(503);
    expect(response.headers.get('RateLimit-Reason')).toBe('unavailable');
    expect(await response.json()).toMatchObject(unavailableProblem(['per-ip/1m']));
  });

  it("a ban answered with 429: ban, naming the banning rule's limits", async () => {
    const response = refusalResponse(verdict('ban', 429, [], rule('login', '5m', 300_000, settings())), settings(), NOW);
    expect(response.headers.get('RateLimit-Reason')).toBe('ban');
    expect(((await response.json()) as Record<string, unknown>)['violated-policies']).toEqual(['login/5m']);
  });

  it('a ban answered with 403: ban in the header, a Forbidden body that names no policy', async () => {
    const response = refusalResponse(verdict('ban', 403, [], rule('login', '5m', 300_000, settings())), settings(), NOW);
    expect(response.headers.get('RateLimit-Reason')).toBe('ban');
    expect(await response.json()).toEqual({ type: 'about:blank', title: 'Forbidden', status: 403, detail: 'Access denied.' });
  });

  it('a block list: block in the header, and the body names the list only', async () => {
    const response = refusalResponse({ ...verdict('block', 403, []), retryAfterMs: 0 }, settings(), NOW);
    expect(response.headers.get('RateLimit-Reason')).toBe('block');
    expect(response.headers.get('Retry-After')).toBeNull();
    expect(await response.json()).toEqual(BLOCKED_BODY);
  });

  it('takes the header name the policy gives', () => {
    const response = refusalResponse(
      verdict('limit', 429, [result('api/1m', 60_000, 30_000)]),
      settings({ reasonHeader: 'Acme-Limited-Reason' }),
      NOW,
    );
    expect(response.headers.get('Acme-Limited-Reason')).toBe('rate');
    expect(response.headers.get('RateLimit-Reason')).toBeNull();
  });

  it('sends no reason header when the policy turns it off, and the body still names the limit', async () => {
    const response = refusalResponse(verdict('limit', 429, [result('api/1m', 60_000, 30_000)]), settings({ reasonHeader: false }), NOW);
    expect([...response.headers.keys()].filter((h) => h.includes('reason'))).toEqual([]);
    expect(((await response.json()) as Record<string, unknown>)['violated-policies']).toEqual(['api/1m']);
  });

  describe.each([
    ['detail', 'application/json', '{"detail":"Slow down"}'],
    ['jsonapi', 'application/vnd.api+json', '{"errors":[{"title":"Too many requests","detail":"Slow down","code":"TOO_MANY_REQUESTS"}]}'],
    ['text', 'text/plain; charset=utf-8', 'Slow down\n'],
  ] as const)('the %s dialect', (body, contentType, text) => {
    it('keeps its body exactly, and the header says why', async () => {
      const response = refusalResponse(
        verdict('limit', 429, [result('api/1d', DAY, 30_000)]),
        settings({ body, message: 'Slow down', headers: [] }),
        NOW,
      );
      expect(response.headers.get('Content-Type')).toBe(contentType);
      expect(await response.text()).toBe(text);
      expect(response.headers.get('RateLimit-Reason')).toBe('quota');
    });

    it("with the header off, adds nothing to the provider's response", async () => {
      const response = refusalResponse(
        verdict('limit', 429, [result('api/1m', 60_000, 30_000)]),
        settings({ body, message: 'Slow down', headers: [], reasonHeader: false }),
        NOW,
      );
      expect([...response.headers.keys()].sort()).toEqual(['cache-control', 'content-type', 'retry-after']);
      expect(await response.text()).toBe(text);
    });
  });
});
