import '../src/telemetry/preload.js';
import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { badge as badgeOf } from '../src/api/check-views.js';
import { respond } from '../src/host/respond.js';

/**
 * The id is read from the URL's path as sent (still percent-encoded), not from the route
 * parameter: a check id holds `/`, which the host would have decoded into path segments.
 */
export async function badge(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  return respond(context, ({ settings, store }) => badgeOf(store, settings, new URL(request.url).pathname.replace(/\/+$/, ''), new Date()));
}

app.http('badge', {
  methods: ['GET'],
  authLevel: 'function',
  route: 'badge/{*name}',
  handler: badge,
});
