import { describe, expect, it } from 'vitest';
import { crossRequestWaitsWork } from './cross-request';

describe('crossRequestWaitsWork', () => {
  it("reads the runtime's compatibility flags (the test runner turns cross-request resolution off)", () => {
    const flags = (globalThis as { Cloudflare?: { compatibilityFlags?: Record<string, boolean> } }).Cloudflare?.compatibilityFlags;
    expect(flags).toBeTypeOf('object');
    expect(flags!.handle_cross_request_promise_resolution).toBe(false);
    expect(crossRequestWaitsWork()).toBe(false);
  });
});
