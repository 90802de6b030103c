// `npm start`: the demo origin on :9000 and the limiter (wrangler dev, local Durable Objects and KV) on :8787 in front of it.
// Pass `--env <preset>` to run a preset instead of the default policy.
import { spawn } from 'node:child_process';
import { startOrigin } from './demo-origin.mjs';

const originPort = Number(process.env.ORIGIN_PORT ?? 9000);
await startOrigin(originPort);
console.log(`demo origin on http://127.0.0.1:${originPort}`);

const args = ['wrangler', 'dev', '--ip', '127.0.0.1', '--port', process.env.PORT ?? '8787', '--var', `ORIGIN_URL:http://127.0.0.1:${originPort}`, ...process.argv.slice(2)];
const child = spawn('npx', args, { stdio: 'inherit' });
const stop = () => child.kill('SIGTERM');
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
child.on('exit', (code) => process.exit(code ?? 0));
