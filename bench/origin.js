// The origin every variant forwards to: a small JSON answer, in the same workerd process.
export default {
  async fetch(request) {
    const url = new URL(request.url);
    return new Response(JSON.stringify({ origin: 'bench', method: request.method, path: url.pathname }), {
      headers: { 'Content-Type': 'application/json' },
    });
  },
};
