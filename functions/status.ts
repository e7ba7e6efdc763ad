import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { status as statusOf, unavailable } from '../src/api/handlers.js';
import { runtime } from '../src/host/runtime.js';

export async function status(_request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  let answer;
  try {
    const { settings, store } = await runtime();
    answer = await statusOf(store, settings.targets, settings.relays, new Date());
  } catch (err) {
    context.error(`status: ${(err as Error).message}`);
    answer = unavailable((err as Error).message);
  }
  return { status: answer.status, jsonBody: answer.body };
}

app.http('status', {
  methods: ['GET'],
  authLevel: 'function',
  route: 'status',
  handler: status,
});
