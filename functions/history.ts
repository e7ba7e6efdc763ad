import '../src/telemetry/preload.js';
import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { history as historyOf } from '../src/api/check-views.js';
import { respond } from '../src/host/respond.js';

export async function history(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  return respond(context, ({ settings, store }) => historyOf(store, settings, new URL(request.url).searchParams, new Date()));
}

app.http('history', {
  methods: ['GET'],
  authLevel: 'function',
  route: 'history',
  handler: history,
});
