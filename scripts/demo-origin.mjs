// A small demo origin for local runs and end-to-end tests: echoes the request as JSON.
// `/status/<code>` (or `?status=<code>` on any path) answers with that status; `/slow/<ms>` waits first; `/reset` drops the connection unanswered.
// `/headers` answers with the request headers the origin received (names in lower case, repeated ones joined with ", ").
// `/reports/*` is a slow report: its headers and first line come at once, the rest after 2 s (`?delay=<ms>`, at most 10 s),
// long enough to show the example policy's concurrency limit (two reports in flight per client address).
import { createServer } from 'node:http';

/** Answers a report in two parts, `?delay=` ms apart (2 s by default, at most 10 s). */
function slowReport(url, res) {
  const asked = Number(url.searchParams.get('delay') ?? 2000);
  const delay = Number.isFinite(asked) ? Math.min(Math.max(0, asked), 10_000) : 2000;
  res.writeHead(200, { 'content-type': 'text/plain', 'x-demo-origin': '1' });
  res.write(`report ${url.pathname.slice('/reports/'.length)}: started\n`);
  const timer = setTimeout(() => res.end(`report done after ${delay} ms\n`), delay);
  res.on('close', () => clearTimeout(timer));
}

export function startOrigin(port = 0, host = '127.0.0.1') {
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://origin');
      if (url.pathname === '/reset') return req.socket.destroy();
      if (url.pathname === '/headers') {
        res.writeHead(200, { 'content-type': 'application/json', 'x-demo-origin': '1' });
        return res.end(JSON.stringify({ origin: 'demo', headers: req.headers }));
      }
      if (url.pathname.startsWith('/reports/')) return slowReport(url, res);
      const status = /^\/status\/(\d{3})$/.exec(url.pathname)?.[1] ?? /^\d{3}$/.exec(url.searchParams.get('status') ?? '')?.[0];
      const delay = Number(/^\/slow\/(\d+)$/.exec(url.pathname)?.[1] ?? 0);
      setTimeout(
        () => {
          res.writeHead(status ? Number(status) : 200, { 'content-type': 'application/json', 'x-demo-origin': '1' });
          res.end(
            JSON.stringify({
              origin: 'demo',
              method: req.method,
              path: url.pathname,
              query: url.search,
              bytes: Buffer.concat(chunks).length,
            }),
          );
        },
        Math.min(delay, 30_000),
      );
    });
  });
  return new Promise((resolve) => server.listen(port, host, () => resolve(server)));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const port = Number(process.env.PORT ?? 9000);
  await startOrigin(port);
  console.log(`demo origin on http://127.0.0.1:${port}`);
}
