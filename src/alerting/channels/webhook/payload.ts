/**
 * The generic webhook's JSON: the alert event as it is, versioned. Published as
 * schemas/alert.v1.schema.json (generated; a test keeps it in step) and docs/alerts.md.
 */
import { stripControlsDeep } from '../../../text/safe-text.js';
import type { AlertEvent } from '../../event.js';
import { hasLinks, type AlertLinks } from '../../links.js';

export interface WebhookPayload extends AlertEvent {
  readonly version: 1;
  /** Where to look: the status page at the check's section, the workbook; absent when neither is known. */
  readonly links?: AlertLinks;
}

export function buildPayload(event: AlertEvent, links: AlertLinks = {}): WebhookPayload {
  // Receivers show these texts (chat bots, ticket titles): no controls, bidi or zero-width characters.
  return stripControlsDeep({ version: 1, ...event, ...(hasLinks(links) && { links }) });
}
