import { describe, expect, it } from 'vitest';
import { alertLinks, linkTargets, MAX_LINK_LENGTH } from '../src/alerting/links.js';
import { testAlertEvent } from '../src/alerting/test-alert.js';
import { parseSettings } from '../src/config/settings.js';

const CHECK = 'relay:connect01:https://ssprdedicatedsbprodscu.servicebus.windows.net/';
/** The check id percent-encoded in the fragment: `:` and `/` included. */
const ANCHOR = 'check-relay%3Aconnect01%3Ahttps%3A%2F%2Fssprdedicatedsbprodscu.servicebus.windows.net%2F';
const WORKBOOK = 'https://portal.azure.com/#@contoso.onmicrosoft.com/resource/subscriptions/s/resourceGroups/rg/providers/Microsoft.Insights/workbooks/5f0a/workbook';

describe('the base URL alerts link to', () => {
  const settings = (env: Record<string, string>) => parseSettings(env).alerting;

  it('is WBMON_PUBLIC_URL when set, over serve\'s own address and the platform\'s host name', () => {
    const alerting = settings({ WBMON_PUBLIC_URL: 'https://wbmon.contoso.com/monitor', WEBSITE_HOSTNAME: 'func-wbmon.azurewebsites.net' });
    expect(linkTargets(alerting, 'http://127.0.0.1:7071')).toEqual({ base: 'https://wbmon.contoso.com/monitor' });
    expect(linkTargets(alerting)).toEqual({ base: 'https://wbmon.contoso.com/monitor' });
  });

  it("is serve's own address without WBMON_PUBLIC_URL, and https://<WEBSITE_HOSTNAME> under Functions", () => {
    expect(linkTargets(settings({}), 'http://127.0.0.1:7071')).toEqual({ base: 'http://127.0.0.1:7071' });
    expect(linkTargets(settings({ WEBSITE_HOSTNAME: 'func-wbmon.azurewebsites.net' }))).toEqual({ base: 'https://func-wbmon.azurewebsites.net' });
  });

  it('is none when nothing names one, and the workbook comes along whenever WBMON_WORKBOOK_URL is set', () => {
    expect(linkTargets(settings({}))).toEqual({});
    expect(linkTargets(settings({ WBMON_WORKBOOK_URL: WORKBOOK }))).toEqual({ workbook: WORKBOOK });
  });
});

describe('the links of one alert', () => {
  const event = { kind: 'triggered' as const, checkId: CHECK };

  it("point to the check's section of the status page, its id percent-encoded in the fragment, and to the workbook", () => {
    expect(alertLinks(event, { base: 'https://wbmon.contoso.com/monitor', workbook: WORKBOOK })).toEqual({
      dashboard: `https://wbmon.contoso.com/monitor/api/dashboard#${ANCHOR}`,
      workbook: WORKBOOK,
    });
    expect(alertLinks({ kind: 'resolved', checkId: 'heartbeat:relay/1|x' }, { base: 'http://127.0.0.1:7071' })).toEqual({
      dashboard: 'http://127.0.0.1:7071/api/dashboard#check-heartbeat%3Arelay%2F1%7Cx',
    });
  });

  it('are absent, not broken, when no base and no workbook are known', () => {
    expect(alertLinks(event, {})).toEqual({});
    expect(alertLinks(event, { workbook: WORKBOOK })).toEqual({ workbook: WORKBOOK });
  });

  it('point a test alert and a retired check to the page itself, without an anchor', () => {
    expect(alertLinks(testAlertEvent(new Date('2026-03-01T10:00:00Z')), { base: 'https://wbmon.contoso.com' })).toEqual({ dashboard: 'https://wbmon.contoso.com/api/dashboard' });
    expect(alertLinks({ kind: 'retired', checkId: CHECK }, { base: 'https://wbmon.contoso.com' })).toEqual({ dashboard: 'https://wbmon.contoso.com/api/dashboard' });
  });

  it('fall back to the page itself for a check id too long for a link or one that cannot be encoded, and leave out a page address too long', () => {
    const base = 'https://wbmon.contoso.com';
    expect(alertLinks({ kind: 'triggered', checkId: 'x'.repeat(MAX_LINK_LENGTH) }, { base })).toEqual({ dashboard: `${base}/api/dashboard` });
    expect(alertLinks({ kind: 'triggered', checkId: 'bad \uD800 surrogate' }, { base })).toEqual({ dashboard: `${base}/api/dashboard` });
    expect(alertLinks(event, { base: `${base}/${'p'.repeat(MAX_LINK_LENGTH)}`, workbook: `${WORKBOOK}${'w'.repeat(MAX_LINK_LENGTH)}` })).toEqual({});
  });
});
