/**
 * Writes one structured JSON log line (Workers Logs and Logpush take it as
 * is). The single place the project logs; callers pass hashed keys only.
 */
export function logEvent(event: string, fields: Record<string, unknown>): void {
  console.log(JSON.stringify({ event, ...fields }));
}
