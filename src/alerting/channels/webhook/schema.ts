/**
 * The generic webhook's payload, version 1, as a zod schema: the JSON Schema published in
 * schemas/alert.v1.schema.json is generated from it (`npm run schemas`), and a test checks
 * built payloads against it.
 */
import { z } from 'zod';

export const alertPayloadSchema = z.object({
  version: z.literal(1),
  id: z.string().describe('idempotency key: the same decision always has the same id'),
  kind: z.enum(['triggered', 'resolved', 'reminder', 'flapping', 'retired', 'test']),
  checkId: z.string(),
  checkKind: z.enum(['probe', 'relay-probe', 'heartbeat', 'keepalive', 'eventlog', 'dc', 'tenant', 'connect', 'provisioning-agent', 'reach', 'roundtrip']),
  target: z.string(),
  location: z.string().describe('an Azure region, local, tenant, or a relay id'),
  state: z.enum(['new', 'up', 'down']),
  since: z.iso.datetime({ offset: true }),
  firstFailureAt: z.iso
    .datetime({ offset: true })
    .optional()
    .describe('a down check only: when its run of failures began (the first failure); since is when the threshold was crossed'),
  at: z.iso.datetime({ offset: true }),
  failure: z.object({ code: z.string(), phase: z.string(), message: z.string() }).optional(),
  remediation: z.object({ summary: z.string(), steps: z.array(z.string()) }),
  links: z
    .object({
      dashboard: z
        .url({ protocol: /^https?$/ })
        .optional()
        .describe("the monitor's status page at this check's section (the page itself for a test or retired alert); opening it in Azure needs the function key"),
      workbook: z.url({ protocol: /^https?$/ }).optional().describe('the Azure Monitor workbook in the Azure portal'),
    })
    .optional()
    .describe('where to look; absent when the monitor knows no address for them, so receivers must not require it'),
});

export function alertJsonSchema(): Record<string, unknown> {
  return {
    $id: 'https://github.com/writeback-monitor/writeback-monitor/schemas/alert.v1.schema.json',
    title: 'writeback-monitor alert webhook payload, version 1',
    ...z.toJSONSchema(alertPayloadSchema, { io: 'input' }),
  };
}
