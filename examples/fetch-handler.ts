/**
 * A Web-standard handler: `export default { fetch }`, as in Cloudflare Workers.
 * Deploy, then call it over the HTTP trigger: curl http://127.0.0.1:8080/fn/fetch-handler/hello?x=1
 */
export default {
  async fetch(request: Request, env: Record<string, string>): Promise<Response> {
    const url = new URL(request.url);
    return Response.json({
      method: request.method,
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      greeting: env['GREETING'] ?? 'hi',
    });
  },
};
