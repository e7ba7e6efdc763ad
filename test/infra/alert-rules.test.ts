/**
 * The Azure Monitor alert rules against what the app does (docs/alerts.md, "Who says what"):
 * - they watch the monitor itself (silent, failing), never the checks the app announces, and
 *   Azure Monitor's own standard tests, which the app knows nothing of (failing from some
 *   regions, from all);
 * - each rule's window holds as many runs of every schedule it reads as it judges, plus
 *   ingestion latency, for the schedules the template sets (the app's defaults), so no rule
 *   fires and resolves between two runs of an hourly timer;
 * - a rule that judges the app's availability results leaves out those it marked as in
 *   maintenance, and the liveness rule counts them (and not the standard tests' results, which
 *   go on when the monitor is dead).
 * The pure parts run everywhere; the compiled-template parts need a Bicep CLI (bicep.test.ts).
 */
import { readdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { findBicep } from '../../infra/check/bicep.js';
import { compileAndLint, type ArmTemplate } from '../../infra/check/infra-check.js';
import { parseSettings } from '../../src/config/settings.js';
import { parseSchedule } from '../../src/schedule/ncrontab.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
const INFRA = join(ROOT, 'infra');
const CACHE = join(ROOT, '.cache', 'bicep');

/**
 * Minutes a result may take to become queryable in the workspace. Azure Monitor documents a
 * typical ingestion latency of 20 s to 3 min; a rule's window must also hold the run that is
 * still on its way, so it gets this much more than the runs it judges.
 */
const INGESTION_MINUTES = 5;

/** WBMON_ROUNDTRIP_SCHEDULE's default (DESIGN.md, Settings). */
const ROUNDTRIP_DEFAULT_SCHEDULE = '0 30 * * * *';

/** The longest wait between two occurrences of a schedule, in minutes, over `days` from `from`. */
function longestGapMinutes(expression: string, from = new Date('2026-01-05T00:00:00Z'), days = 15): number {
  const schedule = parseSchedule(expression);
  const end = from.getTime() + days * 86_400_000;
  let previous = schedule.next(from);
  let longest = 0;
  while (previous.getTime() < end) {
    const next = schedule.next(previous);
    longest = Math.max(longest, next.getTime() - previous.getTime());
    previous = next;
  }
  return longest / 60_000;
}

/** The window a rule needs to judge `runs` consecutive runs of a schedule. */
function neededWindowMinutes(expression: string, runs: number): number {
  return runs * longestGapMinutes(expression) + INGESTION_MINUTES;
}

function windowProblems(rule: string, windowMinutes: number, schedules: Readonly<Record<string, string>>, runs: number): string[] {
  return Object.entries(schedules).flatMap(([setting, expression]) => {
    const needed = neededWindowMinutes(expression, runs);
    return windowMinutes >= needed
      ? []
      : [`${rule}: a ${windowMinutes}-minute window cannot hold ${runs} run(s) of ${setting} "${expression}" (every ${longestGapMinutes(expression)} min at most) plus ${INGESTION_MINUTES} min of ingestion: it needs ${needed}`];
  });
}

/** The query without its comment lines. */
function code(query: string): string {
  return query
    .split('\n')
    .filter((line) => !line.trim().startsWith('//'))
    .join('\n');
}

const MAINTENANCE_FILTER = '| where tostring(Properties.maintenance) != "true"';
/** The line that restricts a query to the standard tests' results (standard-tests.bicep names them webtest:<url>). */
const STANDARD_TESTS_ONLY = '| where Name startswith "webtest:"';

/**
 * A query that judges availability results by their outcome must leave out the ones the app
 * marked as in maintenance; one that only counts them (is the monitor alive?) must not.
 */
function maintenanceProblems(rule: string, query: string): string[] {
  const text = code(query);
  if (!/\bAppAvailabilityResults\b/.test(text)) return [];
  // Azure Monitor's standard tests are not the app's checks: WBMON_MAINTENANCE does not apply.
  if (text.includes(STANDARD_TESTS_ONLY)) return [];
  const judges = /\bSuccess\b/.test(text);
  const filters = text.includes(MAINTENANCE_FILTER);
  if (judges && !filters) return [`${rule}: judges availability results but does not leave out maintenance (${MAINTENANCE_FILTER})`];
  if (!judges && /maintenance/.test(text)) return [`${rule}: counts availability results to see the monitor alive, so it must count those in maintenance too`];
  return [];
}

describe('schedules and windows', () => {
  it('measure the longest gap of the default schedules, and of irregular ones', () => {
    const settings = parseSettings({});
    expect(longestGapMinutes(settings.probeSchedule.expression)).toBe(5);
    expect(longestGapMinutes(settings.evaluateSchedule.expression)).toBe(1);
    expect(longestGapMinutes(settings.tenant.schedule.expression)).toBe(60);
    expect(longestGapMinutes('0 0,30 9-17 * * *')).toBe(930); // 17:30 to 09:00
    expect(longestGapMinutes('0 0 2 * * SUN')).toBe(7 * 24 * 60);
  });

  it('reject a 15-minute rule over the hourly tenant checks (it would fire at :05 and resolve at :20)', () => {
    expect(windowProblems('tenant-failing', 15, { WBMON_TENANT_SCHEDULE: '0 0 * * * *' }, 1)).toEqual([
      'tenant-failing: a 15-minute window cannot hold 1 run(s) of WBMON_TENANT_SCHEDULE "0 0 * * * *" (every 60 min at most) plus 5 min of ingestion: it needs 65',
    ]);
    expect(windowProblems('tenant-failing', 65, { WBMON_TENANT_SCHEDULE: '0 0 * * * *' }, 1)).toEqual([]);
    expect(windowProblems('probe-failing', 10, { WBMON_PROBE_SCHEDULE: '0 */5 * * * *' }, 2)).toEqual([
      'probe-failing: a 10-minute window cannot hold 2 run(s) of WBMON_PROBE_SCHEDULE "0 */5 * * * *" (every 5 min at most) plus 5 min of ingestion: it needs 15',
    ]);
  });
});

describe('the maintenance test of a rule query', () => {
  const checkFailing = 'AppAvailabilityResults\n| where Name !startswith "heartbeat:"\n| summarize Runs = count(), Failures = countif(Success == false) by Name, Location';

  it('reports a query that judges results without leaving out maintenance, and passes it with the filter', () => {
    expect(maintenanceProblems('check-failing', checkFailing)).toEqual([
      'check-failing: judges availability results but does not leave out maintenance (| where tostring(Properties.maintenance) != "true")',
    ]);
    const filtered = checkFailing.replace('\n', `\n${MAINTENANCE_FILTER}\n`);
    expect(maintenanceProblems('check-failing', filtered)).toEqual([]);
    // A filter only in a comment does not count.
    expect(maintenanceProblems('check-failing', `// ${MAINTENANCE_FILTER}\n${checkFailing}`)).toHaveLength(1);
  });

  it('reports a liveness count that leaves maintenance out, and ignores queries of other tables', () => {
    expect(maintenanceProblems('silent', `AppAvailabilityResults\n${MAINTENANCE_FILTER}\n| summarize Results = count()`)).toEqual([
      'silent: counts availability results to see the monitor alive, so it must count those in maintenance too',
    ]);
    expect(maintenanceProblems('silent', 'AppAvailabilityResults\n| summarize Results = count()')).toEqual([]);
    expect(maintenanceProblems('failing', 'AppRequests\n| where not(Success)')).toEqual([]);
  });

  it("exempts a query of the standard tests' results alone, which WBMON_MAINTENANCE does not cover", () => {
    expect(maintenanceProblems('standard', `AppAvailabilityResults\n${STANDARD_TESTS_ONLY}\n| summarize Failed = countif(not(Success)) by Name`)).toEqual([]);
    expect(maintenanceProblems('standard', `AppAvailabilityResults\n// ${STANDARD_TESTS_ONLY}\n| summarize Failed = countif(not(Success)) by Name`)).toHaveLength(1);
  });
});

const found = await findBicep({ cacheDir: CACHE, fetch: false });

interface Rule {
  name: string;
  query: string;
  windowMinutes: number | string;
  schedules: string[];
  /** For a rule reading the standard tests: their interval in minutes (no schedule setting). */
  everyMinutes?: number;
  runs: number;
  dimensions: string[];
  severity: number;
}

/** The windowSize expression alerts.bicep compiles to: whole hours as PTnH, else PTnM. */
const WINDOW_SIZE =
  "[if(equals(mod(variables('rules')[copyIndex()].windowMinutes, 60), 0), format('PT{0}H', div(variables('rules')[copyIndex()].windowMinutes, 60)), format('PT{0}M', variables('rules')[copyIndex()].windowMinutes))]";
const windowSize = (minutes: number): string => (minutes % 60 === 0 ? `PT${minutes / 60}H` : `PT${minutes}M`);
/** What scheduledQueryRules accept as windowSize. */
const AZURE_WINDOW_SIZES = ['PT1M', 'PT5M', 'PT10M', 'PT15M', 'PT30M', 'PT45M', 'PT1H', 'PT2H', 'PT3H', 'PT4H', 'PT5H', 'PT6H', 'P1D', 'P2D'];

if ('unavailable' in found) {
  describe('the alert rules of the compiled template', () => {
    it.skip(`are not checked here: ${found.unavailable}`, () => {});
  });
} else {
  const cli = found.cli;
  let compiled: Promise<ArmTemplate> | undefined;
  const mainTemplate = (): Promise<ArmTemplate> =>
    (compiled ??= compileAndLint(cli, join(INFRA, 'main.bicep')).then((r) => {
      if (!r.template) throw new Error(`main.bicep did not compile: ${r.failure ?? r.diagnostics.map((d) => d.message).join('; ')}`);
      return r.template;
    }));
  const alertsModule = async (): Promise<ArmTemplate> => {
    const module = (await mainTemplate()).resources as Record<string, { properties?: { template?: ArmTemplate } }>;
    return module.alerts!.properties!.template!;
  };
  /** The rules with their queries' text (loadTextContent compiles to a variable per file). */
  const rules = async (): Promise<Rule[]> => {
    const alerts = await alertsModule();
    // rules = concat(monitorRules, standardTests ? standardTestRules : []): both lists.
    expect(alerts.variables?.rules).toBe("[concat(variables('monitorRules'), if(parameters('standardTests'), variables('standardTestRules'), createArray()))]");
    return [...(alerts.variables?.monitorRules as Rule[]), ...(alerts.variables?.standardTestRules as Rule[])].map((r) => ({
      ...r,
      query: String(alerts.variables?.[/^\[variables\('(.+)'\)\]$/.exec(r.query)?.[1] ?? '']),
    }));
  };
  /** Every value a rule's window can take: a literal, or each value main.bicep allows for the parameter. */
  const windowValues = async (rule: Rule): Promise<number[]> => {
    if (typeof rule.windowMinutes === 'number') return [rule.windowMinutes];
    const param = /^\[parameters\('(\w+)'\)\]$/.exec(rule.windowMinutes)?.[1];
    const main = await mainTemplate();
    const passed = (main.resources as Record<string, { properties: { parameters: Record<string, { value: unknown }> } }>).alerts!.properties.parameters[param!]?.value;
    const mainParam = /^\[parameters\('(\w+)'\)\]$/.exec(String(passed))?.[1];
    const declared = main.parameters?.[mainParam!] as { defaultValue?: number; allowedValues?: number[] } | undefined;
    expect(declared, `${rule.name}: window parameter`).toBeDefined();
    return [...new Set([...(declared!.allowedValues ?? []), declared!.defaultValue!])].sort((a, b) => a - b);
  };
  /** Timer function name -> the app setting its schedule comes from, read from functions/*.ts. */
  const timerSchedules = async (): Promise<Record<string, string>> => {
    // functions/roundTrip.ts comes with the round trip's app side (issue 18): until it is there,
    // its binding as DESIGN.md gives it; once it is, what the file says.
    const out: Record<string, string> = { roundTrip: 'WBMON_ROUNDTRIP_SCHEDULE' };
    for (const file of (await readdir(join(ROOT, 'functions'))).filter((f) => f.endsWith('.ts'))) {
      const m = /app\.timer\('(\w+)',\s*\{\s*schedule:\s*'%(\w+)%'/.exec(await readFile(join(ROOT, 'functions', file), 'utf8'));
      if (m) out[m[1]!] = m[2]!;
    }
    return out;
  };

  describe(`the alert rules of the compiled template (${cli.description})`, () => {
    it('set every timer\'s schedule app setting, to the app\'s defaults, before monitorSettings (which may change them)', { timeout: 180_000 }, async () => {
      const main = await mainTemplate();
      const defaults = parseSettings({});
      expect(main.variables?.scheduleSettings).toEqual({
        WBMON_PROBE_SCHEDULE: defaults.probeSchedule.expression,
        WBMON_EVALUATE_SCHEDULE: defaults.evaluateSchedule.expression,
        WBMON_TENANT_SCHEDULE: defaults.tenant.schedule.expression,
        // DESIGN.md's default; the app's settings schema gets it with the roundTrip function.
        WBMON_ROUNDTRIP_SCHEDULE: ROUNDTRIP_DEFAULT_SCHEDULE,
      });
      expect(main.variables?.scheduleSettings).toEqual({ WBMON_PROBE_SCHEDULE: '0 */5 * * * *', WBMON_EVALUATE_SCHEDULE: '0 * * * * *', WBMON_TENANT_SCHEDULE: '0 0 * * * *', WBMON_ROUNDTRIP_SCHEDULE: '0 30 * * * *' });
      // The roundtripSchedule parameter (default the same) comes next; empty means the default.
      expect(main.parameters?.roundtripSchedule?.defaultValue).toBe(ROUNDTRIP_DEFAULT_SCHEDULE);
      // The host resolves %WBMON_*_SCHEDULE% from app settings: each timer's must be set.
      expect(Object.values(await timerSchedules()).sort()).toEqual(Object.keys(main.variables?.scheduleSettings as object).sort());
      const appSettings = (main.resources as Record<string, { properties: { parameters: Record<string, { value: string }> } }>).functionApp!.properties.parameters.appSettings!.value;
      expect(appSettings.startsWith("[union(variables('scheduleSettings'), variables('roundtripScheduleSettings'), variables('givenMonitorSettings'), ")).toBe(true);
      // What azd maps from unset environment values arrives empty and is left out.
      expect(main.variables?.givenMonitorSettings).toBe("[toObject(filter(items(parameters('monitorSettings')), lambda('s', not(empty(lambdaVariables('s').value)))), lambda('s', lambdaVariables('s').key), lambda('s', lambdaVariables('s').value))]");
    });

    it('watch the monitor itself (silent, failing) and the standard tests (some regions, all regions), none of the checks the app announces, all to the action group', { timeout: 180_000 }, async () => {
      const all = await rules();
      expect(all.map((r) => r.name)).toEqual(['monitor-silent', 'monitor-failing', 'standard-test-all-regions', 'standard-test-some-regions']);
      expect(all.map((r) => r.dimensions)).toEqual([[], ['Timer'], ['Test'], ['Test']]);
      // Failing everywhere is the endpoint down (an error); from some regions, the path there (a warning).
      expect(all.map((r) => r.severity)).toEqual([0, 1, 1, 2]);
      // None of the app's checks: no rule per check and location, no heartbeat or cloud probe.
      for (const r of all.slice(0, 2)) expect(code(r.query)).not.toMatch(/\bby Name, Location\b|heartbeat:|cloud:/);
      for (const r of all.slice(2)) expect(code(r.query)).not.toMatch(/heartbeat:|cloud:|checkKind/);
      for (const r of all.slice(2)) expect(code(r.query), r.name).toContain(STANDARD_TESTS_ONLY);
      const byName = new Map(all.map((r) => [r.name, code(r.query)]));
      expect(byName.get('standard-test-all-regions')).toContain('| where FailingRegions == Regions');
      expect(byName.get('standard-test-some-regions')).toContain('| where FailingRegions > 0 and FailingRegions < Regions');
      const resources = Object.values((await alertsModule()).resources as Record<string, { type: string; properties: Record<string, any> }>);
      const rule = resources.find((r) => r.type === 'Microsoft.Insights/scheduledQueryRules')!;
      expect(rule.properties.actions.actionGroups).toEqual(["[variables('actionGroupId')]"]);
      expect((await alertsModule()).variables?.actionGroupId).toBe("[if(empty(parameters('existingActionGroupId')), resourceId('Microsoft.Insights/actionGroups', parameters('actionGroupName')), parameters('existingActionGroupId'))]");
      expect(resources.filter((r) => r.type === 'Microsoft.Insights/actionGroups')).toHaveLength(1);
    });

    it("hold in each rule's window the runs it judges of every schedule it reads, plus ingestion latency", { timeout: 180_000 }, async () => {
      const main = await mainTemplate();
      const schedules = main.variables?.scheduleSettings as Record<string, string>;
      const timers = await timerSchedules();
      const resources = Object.values((await alertsModule()).resources as Record<string, { type: string; properties: Record<string, any> }>);
      const rule = resources.find((r) => r.type === 'Microsoft.Insights/scheduledQueryRules')!.properties;
      // The query time range is the window: no override, one evaluation period.
      expect(rule).not.toHaveProperty('overrideQueryTimeRange');
      expect(rule.windowSize).toBe(WINDOW_SIZE);
      expect(rule.evaluationFrequency).toBe('PT5M');
      expect(rule.criteria.allOf[0].failingPeriods).toEqual({ numberOfEvaluationPeriods: 1, minFailingPeriodsToAlert: 1 });

      const problems: string[] = [];
      const seen: string[] = [];
      for (const r of await rules()) {
        // The timers a query names must be among the schedules the rule declares.
        const named = /Name in \(([^)]*)\)/.exec(code(r.query))?.[1]?.match(/"(\w+)"/g)?.map((s) => s.slice(1, -1)) ?? [];
        for (const timer of named) expect(r.schedules, `${r.name} reads ${timer}`).toContain(timers[timer]);
        for (const setting of r.schedules) expect(schedules[setting], `${r.name}: ${setting}`).toBeDefined();
        const read: Record<string, string> = Object.fromEntries(r.schedules.map((s) => [s, schedules[s]!]));
        // The standard tests run every `everyMinutes` from each location: as a schedule, that.
        if (r.everyMinutes !== undefined) read['standard tests'] = `0 */${r.everyMinutes} * * * *`;
        expect(Object.keys(read).length, `${r.name} reads something`).toBeGreaterThan(0);
        for (const minutes of await windowValues(r)) {
          expect(AZURE_WINDOW_SIZES, `${r.name}: ${minutes} min`).toContain(windowSize(minutes));
          problems.push(...windowProblems(r.name, minutes, read, r.runs));
          seen.push(`${r.name} ${windowSize(minutes)}`);
        }
      }
      expect(problems).toEqual([]);
      expect(seen).toEqual([
        'monitor-silent PT10M',
        'monitor-silent PT15M',
        'monitor-silent PT30M',
        'monitor-silent PT45M',
        'monitor-silent PT1H',
        'monitor-failing PT3H',
        'standard-test-all-regions PT15M',
        'standard-test-some-regions PT15M',
      ]);
      // The interval the rules assume is the one the tests run at.
      expect(main.variables?.standardTestFrequencySeconds).toBe(300);
      for (const r of (await rules()).filter((x) => x.everyMinutes !== undefined)) expect(r.everyMinutes! * 60, r.name).toBe(main.variables?.standardTestFrequencySeconds);
    });

    it('leave out results in maintenance wherever they judge checks, and count them where they ask whether the monitor runs', { timeout: 180_000 }, async () => {
      const all = await rules();
      expect(all.flatMap((r) => maintenanceProblems(r.name, r.query))).toEqual([]);
      const silent = all.find((r) => r.name === 'monitor-silent')!;
      // Standard tests keep reporting when the monitor is dead: they must not count as its results.
      expect(code(silent.query).trim()).toBe('AppAvailabilityResults\n| where not(Name startswith "webtest:")\n| summarize Results = count()');
    });
  });
}
