/**
 * The links an alert carries: the check's place on the status page (src/web/links.ts) and, in
 * Azure, the Azure Monitor workbook. Pure: channels call `alertLinks` when they format an event,
 * so the links are made at delivery time from the event stored in the outbox and the base URL
 * known then (under `serve`, the address it listens on).
 *
 * Which base wins (docs/alerts.md, "Links in alerts"):
 *  1. WBMON_PUBLIC_URL, when set (a custom domain, a reverse proxy);
 *  2. under `serve`, the address it prints (`http://127.0.0.1:7071`);
 *  3. under Azure Functions, `https://<WEBSITE_HOSTNAME>`, the app's default host name;
 *  4. none: the alert has no status page link at all (never a broken one).
 *
 * A link never carries the function key nor any other secret: the base is refused with a user,
 * password or query (src/config/settings.ts), and nothing else is added but the page's path and
 * the check's anchor.
 */
import type { AlertSettings } from '../config/settings.js';
import { dashboardLink, dashboardUrl } from '../web/links.js';
import type { AlertEvent } from './event.js';

/** What an alert links to; each link is absent when there is nowhere to point. */
export interface AlertLinks {
  /** The status page, at the check's section (the page itself for a test or retired alert). */
  readonly dashboard?: string;
  /** The Azure Monitor workbook in the Azure portal (WBMON_WORKBOOK_URL). */
  readonly workbook?: string;
}

/** What links are made from: the monitor's base URL (without `/api`) and the workbook's address. */
export interface LinkTargets {
  readonly base?: string;
  readonly workbook?: string;
}

/** Longer links are left out (some mail clients and chat apps cut URLs beyond about 2,000 characters). */
export const MAX_LINK_LENGTH = 2000;

/** The targets by the order above; `ownUrl` is the address `serve` listens on, once it does. */
export function linkTargets(settings: Pick<AlertSettings, 'publicUrl' | 'platformUrl' | 'workbookUrl'>, ownUrl?: string): LinkTargets {
  const base = settings.publicUrl ?? ownUrl ?? settings.platformUrl;
  return { ...(base !== undefined && { base }), ...(settings.workbookUrl !== undefined && { workbook: settings.workbookUrl }) };
}

export function alertLinks(event: Pick<AlertEvent, 'kind' | 'checkId'>, targets: LinkTargets): AlertLinks {
  const dashboard = targets.base === undefined ? undefined : dashboardFor(event, targets.base);
  const workbook = targets.workbook !== undefined && targets.workbook.length <= MAX_LINK_LENGTH ? targets.workbook : undefined;
  return { ...(dashboard !== undefined && { dashboard }), ...(workbook !== undefined && { workbook }) };
}

/** True when there is at least one link to show. */
export function hasLinks(links: AlertLinks): boolean {
  return links.dashboard !== undefined || links.workbook !== undefined;
}

function dashboardFor(event: Pick<AlertEvent, 'kind' | 'checkId'>, base: string): string | undefined {
  const page = dashboardUrl(base);
  if (page.length > MAX_LINK_LENGTH) return undefined;
  // A test alert is about no check, and a retired check has left the page: the page itself.
  if (event.kind === 'test' || event.kind === 'retired') return page;
  let anchored: string;
  try {
    anchored = dashboardLink(base, event.checkId);
  } catch {
    return page; // a check id that cannot be percent-encoded (a lone surrogate)
  }
  return anchored.length <= MAX_LINK_LENGTH ? anchored : page;
}
