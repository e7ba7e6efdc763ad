import '../src/telemetry/preload.js';
import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { status as statusOf } from '../src/api/handlers.js';
import { respond } from '../src/host/respond.js';

export async function status(_request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  return respond(context, ({ settings, store }) => statusOf(store, settings.targets, settings.relays, new Date(), settings.alerting.maintenance, settings.relayProblems, settings.roundtrip?.userId));
}

app.http('status', {
  methods: ['GET'],
  authLevel: 'function',
  route: 'status',
  handler: status,
});
