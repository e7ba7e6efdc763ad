/** `npm run schemas`: writes schemas/heartbeat.v1.schema.json from the zod schema. */
import { writeFileSync } from 'node:fs';
import { heartbeatJsonSchema } from './json-schema.js';

const path = new URL('../../../schemas/heartbeat.v1.schema.json', import.meta.url);
writeFileSync(path, `${JSON.stringify(heartbeatJsonSchema(), null, 2)}\n`);
process.stdout.write(`wrote ${path.pathname}\n`);
