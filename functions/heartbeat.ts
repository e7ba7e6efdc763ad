import '../src/telemetry/preload.js';
import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { MAX_BODY_BYTES, receiveHeartbeat } from '../src/api/heartbeat.js';
import { respond } from '../src/host/respond.js';
import { safeLog } from '../src/text/safe-text.js';

export async function heartbeat(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  return respond(context, async ({ settings, store, sequences, refusals, subject }) => {
    // A declared length over the limit is refused without reading the body.
    const declared = Number(request.headers.get('content-length') ?? 0);
    const body = declared > MAX_BODY_BYTES ? new Uint8Array(MAX_BODY_BYTES + 1) : new Uint8Array(await request.arrayBuffer());
    return receiveHeartbeat(
      { header: (name) => request.headers.get(name) ?? undefined, body },
      settings.relays,
      async () => store,
      new Date(),
      // Relay-supplied text reaches this line: one line, controls escaped.
      safeLog((line) => context.warn(line)),
      sequences,
      refusals,
      subject,
    );
  });
}

app.http('heartbeat', {
  methods: ['POST'],
  authLevel: 'function',
  route: 'heartbeat',
  handler: heartbeat,
});
