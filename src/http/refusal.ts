import type { Verdict } from '../engine/verdict';
import type { ResponseSettings } from '../policy/schema';
import { refusalBody, renderMessage } from './body';
import { ceilSeconds, rateLimitHeaders } from './headers';
import { refusalReason, refusingResults, violatedPolicies } from './refusal-reason';

/** What a request refused at reduced capacity is told (`{retryAfter}` is the seconds to wait). */
const CAPACITY_MESSAGE = 'The service is running at reduced capacity. Retry in {retryAfter} seconds.';

/**
 * The response for a refused request: 429 (limit, or ban configured so),
 * 403 (blocklist or ban) or 503 (a fail-closed limiter fault, or limits
 * reduced while the origin is degraded: problem type
 * `temporary-reduced-capacity`), with
 * `Retry-After` in whole seconds (never 0 while limited), the policy's
 * rate-limit headers and body. The policy's reason header (`RateLimit-Reason`
 * by default) says why in one token (see `refusal-reason`), and a problem
 * body of a 429 or 503 names the limits that refused in `violated-policies`.
 */
export function refusalResponse(verdict: Verdict, policyResponse: ResponseSettings, now: number): Response {
  const settings = verdict.refusedBy?.response ?? policyResponse;
  const retryAfter = Math.max(1, ceilSeconds(verdict.retryAfterMs));
  const headers = new Headers();
  const blocked = verdict.status === 403;
  if (!blocked || verdict.retryAfterMs > 0) headers.set('Retry-After', String(retryAfter));
  const { reasonHeader } = policyResponse;
  const reason = reasonHeader === false ? undefined : refusalReason(verdict);
  if (reasonHeader !== false && reason !== undefined) headers.set(reasonHeader, reason);
  // A capacity refusal shows the reduced limits in force: an intermediary may make the fields stricter, never laxer.
  if (verdict.kind === 'limit' || verdict.kind === 'capacity')
    for (const [name, value] of rateLimitHeaders(verdict.results, policyResponse, now, true)) headers.set(name, value);

  const message = blocked
    ? settings.blockedMessage
    : verdict.kind === 'unavailable'
      ? 'Rate limiter unavailable; retry shortly.'
      : verdict.kind === 'capacity'
        ? renderMessage(CAPACITY_MESSAGE, retryAfter)
        : renderMessage(settings.message, retryAfter);
  const bodySettings = blocked
    ? { ...settings, title: 'Forbidden', code: 'FORBIDDEN' }
    : verdict.kind === 'capacity'
      ? { ...settings, title: 'Temporary reduced capacity', code: 'TEMPORARY_REDUCED_CAPACITY' }
      : settings;
  const violated = blocked ? refusingResults(verdict.results).map((r) => r.limit.id) : violatedPolicies(verdict);
  // A block-list refusal names the list, and nothing more (not the entry, its reason or which list source).
  const body = refusalBody(bodySettings, verdict.status, message, violated, verdict.kind === 'block' ? { list: 'block' } : {});
  headers.set('Content-Type', body.contentType);
  headers.set('Cache-Control', 'no-store');
  return new Response(verdict.view.method === 'HEAD' ? null : body.text, { status: verdict.status, headers });
}

/**
 * A 400 for a request the limiter cannot read one way only (see
 * `ambiguousOverride`), as an RFC 9457 problem naming what is wrong. It is
 * answered before any limit is asked, so it is never forwarded or counted.
 */
export function badRequestResponse(detail: string): Response {
  return new Response(JSON.stringify({ type: 'about:blank', title: 'Bad Request', status: 400, detail }), {
    status: 400,
    headers: { 'Content-Type': 'application/problem+json', 'Cache-Control': 'no-store' },
  });
}
