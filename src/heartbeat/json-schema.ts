import { z } from 'zod';
import { heartbeatSchema } from './schema.js';

/** The published JSON Schema of heartbeat v1, generated from the zod schema the API enforces. */
export function heartbeatJsonSchema(): Record<string, unknown> {
  return {
    $id: 'https://github.com/writeback-monitor/writeback-monitor/schemas/heartbeat.v1.schema.json',
    title: 'writeback-monitor relay heartbeat, version 1',
    ...z.toJSONSchema(heartbeatSchema, { io: 'input' }),
  };
}
