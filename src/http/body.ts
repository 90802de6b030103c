import type { ResponseSettings } from '../policy/schema';

export type BodySettings = Pick<ResponseSettings, 'body' | 'message' | 'title' | 'code'>;

const PROBLEM_TYPES: Readonly<Record<number, string>> = {
  429: 'https://iana.org/assignments/http-problem-types#quota-exceeded',
  503: 'https://iana.org/assignments/http-problem-types#temporary-reduced-capacity',
};

/** Fills `{retryAfter}` in a message. */
export function renderMessage(template: string, retryAfterSeconds: number): string {
  return template.replaceAll('{retryAfter}', String(retryAfterSeconds));
}

/**
 * The body of a refusal in the policy's format: `{"detail"}`, JSON:API
 * `{"errors": [...]}`, RFC 9457 problem details, or plain text. Problem
 * details also carry `extensions` (e.g. `{"list": "block"}` for a request a
 * block list refused).
 */
export function refusalBody(
  settings: BodySettings,
  status: number,
  message: string,
  violated: readonly string[],
  extensions: Readonly<Record<string, string>> = {},
): { contentType: string; text: string } {
  switch (settings.body) {
    case 'detail':
      return { contentType: 'application/json', text: JSON.stringify({ detail: message }) };
    case 'jsonapi':
      return {
        contentType: 'application/vnd.api+json',
        text: JSON.stringify({ errors: [{ title: settings.title, detail: message, code: settings.code }] }),
      };
    case 'text':
      return { contentType: 'text/plain; charset=utf-8', text: `${message}\n` };
    case 'problem':
      return {
        contentType: 'application/problem+json',
        text: JSON.stringify({
          type: PROBLEM_TYPES[status] ?? 'about:blank',
          title: settings.title,
          status,
          detail: message,
          ...(violated.length > 0 ? { 'violated-policies': violated } : {}),
          ...extensions,
        }),
      };
  }
}
