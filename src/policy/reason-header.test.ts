import { describe, expect, it } from 'vitest';
import { POLICIES } from '../presets/registry';
import { parsePolicy } from './parse';

const policy = (response?: Record<string, unknown>) => ({
  name: 'p',
  rules: [{ name: 'api', key: 'ip', limits: [{ limit: 10, window: '1m' }] }],
  ...(response ? { response } : {}),
});

describe('response.reasonHeader', () => {
  it('is RateLimit-Reason by default', () => {
    expect(parsePolicy(policy()).response.reasonHeader).toBe('RateLimit-Reason');
  });

  it('takes another header name, or false for none', () => {
    expect(parsePolicy(policy({ reasonHeader: 'Acme-Limited-Reason' })).response.reasonHeader).toBe('Acme-Limited-Reason');
    expect(parsePolicy(policy({ reasonHeader: false })).response.reasonHeader).toBe(false);
  });

  const refused: Array<[string, unknown, string]> = [
    [
      'a name with a space',
      'Limited Reason',
      'response.reasonHeader: reasonHeader is a header name (letters, digits and "-", at most 64) or false',
    ],
    ['an empty name', '', 'response.reasonHeader: reasonHeader is a header name (letters, digits and "-", at most 64) or false'],
    ['true', true, 'response.reasonHeader: reasonHeader is a header name or false'],
    ['a number', 429, 'response.reasonHeader: reasonHeader is a header name or false'],
    ['Retry-After', 'retry-after', 'response.reasonHeader: reasonHeader cannot be a header the limiter already sets'],
    ['an X-RateLimit header', 'X-RateLimit-Remaining', 'response.reasonHeader: reasonHeader cannot be a header the limiter already sets'],
    ['RateLimit-Policy', 'RateLimit-Policy', 'response.reasonHeader: reasonHeader cannot be a header the limiter already sets'],
  ];
  it.each(refused)('refuses %s, naming the field', (_, value, message) => {
    expect(() => parsePolicy(policy({ reasonHeader: value }))).toThrow(message);
  });

  it('is off in the provider presets, whose pages list every header their refusals carry, and on in the example policies (default, quotas, origin-health)', () => {
    const byName = Object.fromEntries(Object.entries(POLICIES).map(([name, p]) => [name, p.response.reasonHeader]));
    expect(byName).toEqual({
      default: 'RateLimit-Reason',
      cloudsmith: false,
      rubygems: false,
      fluidcloud: false,
      keygen: false,
      quotas: 'RateLimit-Reason',
      'origin-health': 'RateLimit-Reason',
    });
  });
});
