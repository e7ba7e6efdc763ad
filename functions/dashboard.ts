import '../src/telemetry/preload.js';
import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { dashboard as dashboardOf } from '../src/api/dashboard.js';
import { respond } from '../src/host/respond.js';

export async function dashboard(_request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  return respond(context, ({ settings, store }) => dashboardOf(store, settings, new Date()));
}

app.http('dashboard', {
  methods: ['GET'],
  authLevel: 'function',
  route: 'dashboard',
  handler: dashboard,
});
