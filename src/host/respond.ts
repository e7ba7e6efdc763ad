/**
 * Maps a host-independent API answer to the Functions response, and a failure of the
 * monitor's own set-up (settings, storage) to a 503 that names it, logged once.
 */
import type { HttpResponseInit, InvocationContext } from '@azure/functions';
import { unavailable, type ApiResponse } from '../api/handlers.js';
import { escapeControls } from '../text/safe-text.js';
import { runtime, type Runtime } from './runtime.js';

export async function respond(context: InvocationContext, answer: (rt: Runtime) => Promise<ApiResponse>): Promise<HttpResponseInit> {
  let result: ApiResponse;
  try {
    result = await answer(await runtime());
  } catch (err) {
    context.error(escapeControls(`${context.functionName}: ${(err as Error).message}`));
    result = unavailable((err as Error).message);
  }
  if (result.contentType === undefined) return { status: result.status, jsonBody: result.body, ...(result.headers && { headers: { ...result.headers } }) };
  return { status: result.status, body: String(result.body), headers: { 'cache-control': 'no-store', ...result.headers, 'content-type': result.contentType, 'x-content-type-options': 'nosniff' } };
}
