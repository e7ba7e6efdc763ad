/**
 * Text that comes from the tenant (a Cloud Sync configuration's name, a synchronization job's
 * error, an audit entry's agent) made fit for an alert and /api/status: no controls, bidi or
 * zero-width characters, one line, user names masked, bounded in length. Pure.
 */
import { maskNames } from '../checks/mask.js';
import { stripControls } from '../text/safe-text.js';

/** Cleaned text, or undefined when nothing readable is left (or it was not a string). */
export function tenantText(value: unknown, max = 300): string | undefined {
  if (typeof value !== 'string') return undefined;
  const text = maskNames(stripControls(value)).replace(/\s+/g, ' ').trim();
  if (text === '') return undefined;
  return text.length > max ? `${text.slice(0, max - 1).trimEnd()}…` : text;
}

/** Tenant text in quotation marks, as a message quotes what Microsoft's service said. */
export function quoted(value: unknown, max = 300): string | undefined {
  const text = tenantText(value, max);
  return text === undefined ? undefined : `“${text.replace(/[“”]/g, '"')}”`;
}
