import type { Context } from 'hono';
import { InvalidInput } from '../operations/invalid-input';

/** Largest request body the admin API reads. */
export const MAX_BODY_BYTES = 64 * 1024;

/** The request's JSON body, read with a size cap; errors name what is wrong. */
export async function jsonBody(c: Context): Promise<unknown> {
  const declared = Number(c.req.header('Content-Length') ?? 0);
  if (declared > MAX_BODY_BYTES) throw new InvalidInput(413, '(body)', `the body is over ${MAX_BODY_BYTES} bytes`);
  const type = c.req.header('Content-Type') ?? '';
  if (!/^application\/json\b/i.test(type)) throw new InvalidInput(415, '(body)', 'send Content-Type: application/json');
  const reader = c.req.raw.body?.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (reader) {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > MAX_BODY_BYTES) {
        await reader.cancel();
        throw new InvalidInput(413, '(body)', `the body is over ${MAX_BODY_BYTES} bytes`);
      }
      chunks.push(value);
    }
  }
  const text = new TextDecoder().decode(concat(chunks, size));
  try {
    return JSON.parse(text);
  } catch {
    throw new InvalidInput(400, '(body)', 'the body is not valid JSON');
  }
}

function concat(chunks: readonly Uint8Array[], size: number): Uint8Array {
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}
