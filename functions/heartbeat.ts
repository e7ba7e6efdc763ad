import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { unavailable } from '../src/api/handlers.js';
import { MAX_BODY_BYTES, receiveHeartbeat } from '../src/api/heartbeat.js';
import { runtime } from '../src/host/runtime.js';

export async function heartbeat(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  let answer;
  try {
    const { settings, store, sequences } = await runtime();
    // A declared length over the limit is refused without reading the body.
    const declared = Number(request.headers.get('content-length') ?? 0);
    const body = declared > MAX_BODY_BYTES ? new Uint8Array(MAX_BODY_BYTES + 1) : new Uint8Array(await request.arrayBuffer());
    answer = await receiveHeartbeat(
      { header: (name) => request.headers.get(name) ?? undefined, body },
      settings.relays,
      async () => store,
      new Date(),
      (line) => context.warn(line),
      sequences,
    );
  } catch (err) {
    context.error(`heartbeat: ${(err as Error).message}`);
    answer = unavailable((err as Error).message);
  }
  return { status: answer.status, jsonBody: answer.body };
}

app.http('heartbeat', {
  methods: ['POST'],
  authLevel: 'function',
  route: 'heartbeat',
  handler: heartbeat,
});
