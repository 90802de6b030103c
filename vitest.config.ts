import type { AddressInfo } from 'node:net';
import { cloudflareTest } from '@cloudflare/vitest-plugin';
import { defineConfig } from 'vitest/config';
// @ts-expect-error a plain ES module without types
import { startOrigin } from './scripts/demo-origin.mjs';

export default defineConfig(async () => {
  // A real origin server for the worker tests: they reach it through ORIGIN_URL.
  const origin = await startOrigin(0);
  origin.unref();
  const originUrl = `http://127.0.0.1:${(origin.address() as AddressInfo).port}`;
  return {
    test: {
      projects: [
        {
          plugins: [cloudflareTest({ wrangler: { configPath: './wrangler.toml' }, miniflare: { bindings: { ORIGIN_URL: originUrl } } })],
          test: {
            name: 'workerd',
            include: ['src/**/*.test.ts', 'test/worker/**/*.test.ts'],
            // Property tests and the crash/packed-check suites make thousands of object calls: on a shared 2-core machine they can pass 5 s.
            testTimeout: 30_000,
          },
        },
        {
          test: {
            name: 'node',
            include: ['bench/**/*.test.ts'],
            environment: 'node',
          },
        },
        {
          test: {
            name: 'e2e',
            include: ['test/e2e/**/*.test.ts'],
            environment: 'node',
            testTimeout: 60_000,
            hookTimeout: 90_000,
          },
        },
      ],
    },
  };
});
