import { describe, expect, it } from 'vitest';
import { refusalBody, renderMessage } from './body';

const base = { message: 'Wait {retryAfter}s', title: 'Too many requests', code: 'TOO_MANY_REQUESTS' };

describe('refusalBody', () => {
  it('writes {"detail"}', () => {
    expect(refusalBody({ ...base, body: 'detail' }, 429, 'Wait 3s', [])).toEqual({
      contentType: 'application/json',
      text: '{"detail":"Wait 3s"}',
    });
  });

  it('writes JSON:API errors', () => {
    const body = refusalBody({ ...base, body: 'jsonapi' }, 429, 'Throttled', []);
    expect(body.contentType).toBe('application/vnd.api+json');
    expect(JSON.parse(body.text)).toEqual({ errors: [{ title: 'Too many requests', detail: 'Throttled', code: 'TOO_MANY_REQUESTS' }] });
  });

  it('writes RFC 9457 problem details naming the violated policies', () => {
    const body = refusalBody({ ...base, body: 'problem' }, 429, 'Slow down', ['api/1m']);
    expect(body.contentType).toBe('application/problem+json');
    expect(JSON.parse(body.text)).toEqual({
      type: 'https://iana.org/assignments/http-problem-types#quota-exceeded',
      title: 'Too many requests',
      status: 429,
      detail: 'Slow down',
      'violated-policies': ['api/1m'],
    });
  });

  it('adds extension members to problem details, such as the list that refused a request', () => {
    const body = refusalBody({ ...base, title: 'Forbidden', body: 'problem' }, 403, 'Access denied.', [], { list: 'block' });
    expect(JSON.parse(body.text)).toEqual({
      type: 'about:blank',
      title: 'Forbidden',
      status: 403,
      detail: 'Access denied.',
      list: 'block',
    });
  });

  it('writes plain text', () => {
    expect(refusalBody({ ...base, body: 'text' }, 429, 'Retry later', [])).toEqual({
      contentType: 'text/plain; charset=utf-8',
      text: 'Retry later\n',
    });
  });
});

describe('renderMessage', () => {
  it('fills every {retryAfter}', () => {
    expect(renderMessage('{retryAfter} … {retryAfter}', 7)).toBe('7 … 7');
  });
});
