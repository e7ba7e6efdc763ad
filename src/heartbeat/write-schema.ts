/** `npm run schemas`: writes the published JSON Schemas from the zod schemas they mirror. */
import { writeFileSync } from 'node:fs';
import { alertJsonSchema } from '../alerting/channels/webhook/schema.js';
import { heartbeatJsonSchema } from './json-schema.js';

for (const [name, schema] of [
  ['heartbeat.v1.schema.json', heartbeatJsonSchema()],
  ['alert.v1.schema.json', alertJsonSchema()],
] as const) {
  const path = new URL(`../../../schemas/${name}`, import.meta.url);
  writeFileSync(path, `${JSON.stringify(schema, null, 2)}\n`);
  process.stdout.write(`wrote ${path.pathname}\n`);
}
