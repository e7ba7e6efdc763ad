import '../src/telemetry/preload.js';
import { app, type HttpResponseInit } from '@azure/functions';
import { health as healthOf } from '../src/api/handlers.js';

export async function health(): Promise<HttpResponseInit> {
  const answer = healthOf();
  return { status: answer.status, jsonBody: answer.body };
}

app.http('health', {
  methods: ['GET'],
  authLevel: 'anonymous',
  route: 'health',
  handler: health,
});
