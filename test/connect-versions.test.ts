/**
 * The relay's dated table of Connect Sync builds (src/relay/connect-versions.json) and the
 * verdicts drawn from it, at the boundaries, with a fake clock: the relay reads the table, the
 * monitor judges the end of support at the time the relay checked.
 */
import { describe, expect, it } from 'vitest';
import { CONNECT_VERSIONS, SUPPORT_WARNING_DAYS, supportOf, supportVerdict } from '../src/relay/connect-versions.js';
import { connectResult } from '../src/monitor/sync-engine-checks.js';
import { heartbeatSchema } from '../src/heartbeat/schema.js';
import { compareVersions } from '../src/relay/windows-reads.js';

const day = (iso: string, offsetDays = 0): Date => new Date(Date.parse(`${iso}T00:00:00Z`) + offsetDays * 86_400_000);

describe('the table of Connect Sync builds shipped with the relay', () => {
  it("names its source, the day it was checked and Microsoft's rule, and dates every build but the newest", () => {
    expect(CONNECT_VERSIONS.source).toBe('https://learn.microsoft.com/entra/identity/hybrid/connect/reference-connect-version-history');
    expect(CONNECT_VERSIONS.checked).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(CONNECT_VERSIONS.rule).toContain('retire 12 months from the date that a newer version is released');
    const rows = CONNECT_VERSIONS.versions;
    expect([...rows].sort((a, b) => compareVersions(a.version, b.version))).toEqual(rows);
    for (const row of rows.slice(0, -1)) expect(row.endOfSupport, row.version).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(rows.at(-1)!.endOfSupport).toBeNull();
    expect(CONNECT_VERSIONS.minimums.map((m) => [m.version, m.by])).toEqual([
      ['2.5.79.0', '2026-09-30'],
      ['2.6.84.0', '2027-04-07'],
    ]);
  });

  it('gives a listed build its row, a build below a minimum the earlier cut-off, and builds off the table what Microsoft says of them', () => {
    expect(supportOf('2.5.79.0')).toMatchObject({ endOfSupport: '2026-10-23', match: 'listed', basis: '12 months after the release of 2.5.190.0' });
    // 12 months after 2.6.84.0 would be 2027-07-07, but below 2.6.84.0 sync stops on 2027-04-07.
    expect(supportOf('2.6.3.0')).toMatchObject({ endOfSupport: '2027-04-07', match: 'listed', basis: 'below 2.6.84.0, which Microsoft requires by 2027-04-07: below it synchronization stops' });
    expect(supportOf('2.6.84.0')).toMatchObject({ endOfSupport: '2027-09-16', match: 'listed' });
    expect(supportOf('2.6.91.0')).toMatchObject({ endOfSupport: null, match: 'listed' });
    expect(supportOf('2.7.12.0')).toMatchObject({ endOfSupport: null, match: 'newer' });
    expect(supportOf('2.1.20.0')).toMatchObject({ endOfSupport: '2025-04-30', match: 'older' });
    expect(supportOf('1.6.16.0').basis).toContain('"All other versions are not supported"');
    expect(supportOf('2.5.100.0')).toMatchObject({ endOfSupport: '2026-10-23', match: 'unlisted' });
  });
});

describe('the end of support, at its boundaries', () => {
  const END = '2026-10-23';
  it(`is supported until ${SUPPORT_WARNING_DAYS} days before, ending from then, and ended from the day itself`, () => {
    expect(supportVerdict(END, day(END, -91))).toEqual({ state: 'supported' });
    expect(supportVerdict(END, new Date(day(END, -90).getTime() - 1))).toEqual({ state: 'supported' });
    expect(supportVerdict(END, day(END, -90))).toEqual({ state: 'ending', daysLeft: 90 });
    expect(supportVerdict(END, day(END, -1))).toEqual({ state: 'ending', daysLeft: 1 });
    expect(supportVerdict(END, new Date(day(END).getTime() - 1))).toEqual({ state: 'ending', daysLeft: 1 });
    expect(supportVerdict(END, day(END))).toEqual({ state: 'ended', daysAgo: 0 });
    expect(supportVerdict(END, day(END, 1))).toEqual({ state: 'ended', daysAgo: 1 });
    expect(supportVerdict(null, day(END, 1000))).toEqual({ state: 'supported' });
  });

  it('turns into an up connect check, then a warning 90 days before, then a failure on the day and after', () => {
    const report = (checkedAt: Date) => ({
      checkedAt: checkedAt.toISOString(),
      installed: true,
      version: '2.5.79.0',
      service: 'running' as const,
      support: { ...supportOf('2.5.79.0') },
      stagingMode: false,
    });
    for (const at of [day(END, -91), day(END, -90), day(END), day(END, 1)]) {
      expect(heartbeatSchema.shape.connectSync.safeParse(report(at)).success).toBe(true);
    }
    expect(connectResult(report(day(END, -91)))).toEqual({ ok: true, startedAt: day(END, -91).toISOString() });
    expect(connectResult(report(day(END, -90)))).toEqual({
      ok: true,
      startedAt: day(END, -90).toISOString(),
      warnings: [
        {
          code: 'connect_support_ending',
          message: `Entra Connect Sync 2.5.79.0 is supported until 2026-10-23, 90 days from now (12 months after the release of 2.5.190.0; the relay's table of Microsoft's supported builds, checked ${CONNECT_VERSIONS.checked}); upgrade before then (warned from 90 days before)`,
        },
      ],
    });
    for (const at of [day(END), day(END, 1)]) {
      expect(connectResult(report(at))).toEqual({
        ok: false,
        startedAt: at.toISOString(),
        failure: {
          code: 'connect_unsupported',
          phase: 'connect',
          message: `Entra Connect Sync 2.5.79.0 is not supported since 2026-10-23 (12 months after the release of 2.5.190.0; the relay's table of Microsoft's supported builds, checked ${CONNECT_VERSIONS.checked})`,
        },
      });
    }
  });

  it('fails on a stopped ADSync service before anything else, naming the unsupported build too', () => {
    const result = connectResult({ checkedAt: day(END, 5).toISOString(), installed: true, version: '2.5.79.0', service: 'stopped', support: supportOf('2.5.79.0') });
    expect(result?.failure?.code).toBe('adsync_not_running');
    expect(result?.failure?.message).toBe(
      `the ADSync service (Microsoft Azure AD Sync) is stopped: password writeback runs inside it; and Entra Connect Sync 2.5.79.0 is not supported since 2026-10-23 (12 months after the release of 2.5.190.0; the relay's table of Microsoft's supported builds, checked ${CONNECT_VERSIONS.checked})`,
    );
  });

  it('says nothing for a server without Connect, and warns of staging mode, an unlisted build and what could not be read', () => {
    expect(connectResult({ checkedAt: day(END).toISOString(), installed: false, version: null, service: 'missing' })).toBeUndefined();
    const result = connectResult({
      checkedAt: day(END, -300).toISOString(),
      installed: true,
      version: '2.5.100.0',
      service: 'running',
      support: supportOf('2.5.100.0'),
      stagingMode: true,
      problems: ['staging mode unknown: Get-ADSyncScheduler failed (exit 1): access denied'],
    });
    expect(result?.ok).toBe(true);
    expect(result?.warnings?.map((w) => w.code)).toEqual(['connect_version_unlisted', 'connect_staging', 'connect_read_problem']);
  });
});
