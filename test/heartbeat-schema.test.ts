import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { heartbeatJsonSchema } from '../src/heartbeat/json-schema.js';
import { heartbeatSchema } from '../src/heartbeat/schema.js';
import { heartbeat } from './support/heartbeats.js';

describe('heartbeat schema', () => {
  it('is published in schemas/heartbeat.v1.schema.json exactly as the API enforces it (npm run schemas regenerates it)', () => {
    const file = JSON.parse(readFileSync(join(import.meta.dirname, '..', 'schemas', 'heartbeat.v1.schema.json'), 'utf8'));
    expect(file).toEqual(heartbeatJsonSchema());
  });

  it('accepts the documented example and refuses an unknown version', () => {
    expect(heartbeatSchema.safeParse(heartbeat(1)).success).toBe(true);
    expect(heartbeatSchema.safeParse({ ...heartbeat(1), version: 2 }).success).toBe(false);
  });
});
