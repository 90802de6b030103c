import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { createApp } from '../../../src/worker';
import { freshIp } from '../../support/app';

describe('the standalone worker', () => {
  it('runs the preset the POLICY variable names', async () => {
    const app = createApp();
    const limitOf = async (policy: string) => {
      const ip = freshIp();
      const ask = () => app.request('http://api.example.test/v1/me', { headers: { 'CF-Connecting-IP': ip } }, { ...env, POLICY: policy });
      // The first call wakes the key's object; on a busy machine it may outlast the 50 ms timeout and fail open.
      await (await ask()).arrayBuffer();
      const response = await ask();
      await response.arrayBuffer();
      return [response.status, response.headers.get('X-RateLimit-Limit'), response.headers.get('X-RateLimit-Window')];
    };
    expect(await limitOf('keygen')).toEqual([200, '60', '30s']);
    expect(await limitOf('cloudsmith')).toEqual([200, '1800', null]);
    expect(await limitOf('default')).toEqual([200, '10', null]);
  });

  it('refuses to run under a POLICY that names no preset', async () => {
    const response = await createApp().request(
      'http://api.example.test/',
      { headers: { 'CF-Connecting-IP': freshIp() } },
      { ...env, POLICY: 'nope' },
    );
    expect(response.status).toBe(500);
  });
});
