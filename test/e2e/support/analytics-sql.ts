import { createServer, type Server } from 'node:http';

/** One request the stand-in received. */
export interface SentQuery {
  readonly path: string;
  readonly authorization: string | undefined;
  readonly sql: string;
}

export interface AnalyticsSqlStandIn {
  /** The base to give the worker as `ANALYTICS_SQL_URL`. */
  readonly url: string;
  /** Every query received, in order. */
  readonly sent: SentQuery[];
  close(): Promise<void>;
}

/**
 * A local stand-in for Analytics Engine's SQL API, which only answers for a
 * deployed worker's account: it records each query it is sent (path,
 * bearer token, SQL text) and answers `{ meta, data, rows }` with the rows
 * `answer` gives for the SQL, as the real API answers `FORMAT JSON`.
 */
export async function startAnalyticsSql(answer: (sql: string) => Array<Record<string, unknown>>): Promise<AnalyticsSqlStandIn> {
  const sent: SentQuery[] = [];
  const server: Server = createServer((request, response) => {
    let body = '';
    request.setEncoding('utf8');
    request.on('data', (chunk) => (body += chunk));
    request.on('end', () => {
      sent.push({ path: request.url ?? '', authorization: request.headers.authorization, sql: body });
      const data = answer(body);
      response.writeHead(200, { 'Content-Type': 'application/json' });
      response.end(JSON.stringify({ meta: [], data, rows: data.length }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}/client/v4`,
    sent,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
