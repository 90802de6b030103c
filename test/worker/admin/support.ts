import { expect } from 'vitest';

/** An app the dashboard is mounted in, under `/_ratelimit`: all the sign-in needs of it is Hono's `request`. */
interface DashboardHost {
  request(url: string, init: RequestInit, bindings: object): Response | Promise<Response>;
}

/**
 * Signs in to the dashboard under `/_ratelimit` with `token`, posting the
 * sign-in form as a browser on `origin` does, and returns the session cookie
 * (`name=value`) for the requests that follow. The sign-in must answer 303.
 */
export async function signInToDashboard(
  app: DashboardHost,
  { token, bindings, origin = 'https://api.example.test' }: { token: string; bindings: object; origin?: string },
): Promise<string> {
  const response = await app.request(
    `${origin}/_ratelimit/dashboard/login`,
    {
      method: 'POST',
      body: new URLSearchParams({ token }).toString(),
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Origin: origin },
    },
    bindings,
  );
  expect(response.status).toBe(303);
  return response.headers.get('Set-Cookie')!.split(';')[0]!;
}
