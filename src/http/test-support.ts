/** The problem body of a fail-closed fault's 503, naming the limits that could not be asked (`toMatchObject`). */
export const unavailableProblem = (policies: string[]) => ({
  type: 'https://iana.org/assignments/http-problem-types#temporary-reduced-capacity',
  status: 503,
  'violated-policies': policies,
});

/** The whole body of a block list's 403: it names the list only, no policy. */
export const BLOCKED_BODY = { type: 'about:blank', title: 'Forbidden', status: 403, detail: 'Access denied.', list: 'block' };
