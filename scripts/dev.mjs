// `npm start`: the demo origin on :9000 and the limiter (wrangler dev, local Durable Objects and KV) on :8787 in front of it.
// Pass `--env <preset>` to run a preset instead of the default policy. PORT and ORIGIN_PORT move them to other ports.
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { startOrigin } from './demo-origin.mjs';

const port = Number(process.env.PORT ?? 8787);
const originPort = Number(process.env.ORIGIN_PORT ?? 9000);

/** Whether something already listens on the port (another `npm start`, say). */
function inUse(p) {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', (error) => (error.code === 'EADDRINUSE' ? resolve(true) : reject(error)));
    probe.listen(p, '127.0.0.1', () => probe.close(() => resolve(false)));
  });
}

for (const [p, variable] of [
  [port, 'PORT'],
  [originPort, 'ORIGIN_PORT'],
]) {
  if (await inUse(p)) {
    console.error(`Port ${p} is already in use (another npm start?). Stop it, or pick another port: ${variable}=<port> npm start`);
    process.exit(1);
  }
}

await startOrigin(originPort);
console.log(`demo origin on http://127.0.0.1:${originPort}`);

const args = [
  'wrangler',
  'dev',
  '--ip',
  '127.0.0.1',
  '--port',
  String(port),
  '--var',
  `ORIGIN_URL:http://127.0.0.1:${originPort}`,
  ...process.argv.slice(2),
];
// Local runs use wrangler's placeholder `request.cf` instead of downloading one (offline, that download fails with two stack traces).
const child = spawn('npx', args, { stdio: 'inherit', env: { CLOUDFLARE_CF_FETCH_ENABLED: 'false', ...process.env } });
const stop = () => child.kill('SIGTERM');
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
child.on('exit', (code) => process.exit(code ?? 0));
