// A library user's worker for the forwarding end-to-end tests: the package's
// middleware and origin forwarder with a policy that trusts a proxy's
// X-Forwarded-For and asks for every client-address header, 3 requests a
// minute per client.
import { Hono } from 'hono';
import { forwardToOrigin, rateLimit } from '../../../src/index';

export { RateLimiter } from '../../../src/index';

const app = new Hono<{ Bindings: { ORIGIN_URL: string } }>();
app.use(
  '*',
  rateLimit({
    policy: {
      name: 'forwarding-e2e',
      clientIp: { trustedProxyHeader: 'X-Forwarded-For' },
      forwardClientAddress: ['X-Forwarded-For', 'X-Real-IP', 'Forwarded'],
      rules: [{ name: 'per-ip', key: 'ip', limits: [{ limit: 3, window: '1m' }] }],
    },
  }),
);
app.all('*', (c) => forwardToOrigin(c, { originUrl: c.env.ORIGIN_URL }));
export default app;
