async function digest(text: string): Promise<ArrayBuffer> {
  return crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
}

/**
 * Whether `presented` equals `secret`, in time independent of where they
 * differ: both are hashed to equal-length digests, compared with
 * `timingSafeEqual`.
 */
export async function sameSecret(presented: string, secret: string): Promise<boolean> {
  const [a, b] = await Promise.all([digest(presented), digest(secret)]);
  return crypto.subtle.timingSafeEqual(a, b);
}

/** The bearer token of an `Authorization` header, or `undefined`. */
export function bearerOf(header: string | undefined): string | undefined {
  const match = /^Bearer[ ]+(\S{1,4096})\s*$/i.exec(header ?? '');
  return match?.[1];
}
