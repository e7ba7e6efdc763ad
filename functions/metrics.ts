import '../src/telemetry/preload.js';
import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { metrics as metricsOf } from '../src/api/check-views.js';
import { respond } from '../src/host/respond.js';

export async function metrics(_request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  return respond(context, ({ settings, store }) => metricsOf(store, settings, new Date()));
}

app.http('metrics', {
  methods: ['GET'],
  authLevel: 'function',
  route: 'metrics',
  handler: metrics,
});
