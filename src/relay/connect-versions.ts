/**
 * When a Connect Sync build stops being supported, from the dated table shipped with the relay
 * (connect-versions.json: Microsoft's "Version release history" table, its source and the day
 * it was checked). Updating the table is a data change, not a code change. Pure: the version,
 * the table and (for the verdict) the clock come in.
 *
 * A build's end of support is its row's date, or earlier when it is below a minimum version
 * Microsoft requires by a date (below it "all synchronization services ... will fail"). A
 * build older than every row is not supported ("All other versions are not supported"); one
 * between rows (a hotfix the table does not list) is taken to end no later than the listed
 * build below it, which its successor superseded; one newer than every row has no known end.
 */
import table from './connect-versions.json' with { type: 'json' };
import { compareVersions } from '../heartbeat/sync-engines.js';

export interface VersionRow {
  readonly version: string;
  readonly released?: string;
  readonly endOfSupport: string | null;
  readonly basis: string;
}

export interface MinimumVersion {
  readonly version: string;
  readonly by: string;
  readonly source: string;
  readonly quote: string;
  readonly confirmed: boolean;
}

export interface VersionTable {
  readonly source: string;
  readonly checked: string;
  readonly rule: string;
  readonly minimums: readonly MinimumVersion[];
  readonly versions: readonly VersionRow[];
}

export const CONNECT_VERSIONS: VersionTable = table;

/** listed: a row of the table; unlisted: between rows; older / newer: outside them. */
export type VersionMatch = 'listed' | 'unlisted' | 'older' | 'newer';

export interface SupportAnswer {
  /** The last day of support is the day before: from this day (UTC) the build is not supported. Null: no end known. */
  readonly endOfSupport: string | null;
  readonly basis: string;
  readonly match: VersionMatch;
  /** When the table was checked against Microsoft's page. */
  readonly tableChecked: string;
}

export function supportOf(version: string, versions: VersionTable = CONNECT_VERSIONS): SupportAnswer {
  const rows = [...versions.versions].sort((a, b) => compareVersions(a.version, b.version));
  const exact = rows.find((r) => compareVersions(r.version, version) === 0);
  const below = rows.filter((r) => compareVersions(r.version, version) < 0).at(-1);
  const newest = rows.at(-1);
  let answer: { endOfSupport: string | null; basis: string; match: VersionMatch };
  if (exact) answer = { endOfSupport: exact.endOfSupport, basis: exact.basis, match: 'listed' };
  else if (newest && compareVersions(version, newest.version) > 0) answer = { endOfSupport: null, basis: `newer than every build in the table (the newest is ${newest.version})`, match: 'newer' };
  else if (!below) {
    const oldest = rows[0];
    answer = {
      endOfSupport: oldest?.endOfSupport ?? null,
      basis: `older than every supported build in Microsoft's table${oldest ? ` (the oldest, ${oldest.version}, ended ${oldest.endOfSupport})` : ''}: "All other versions are not supported"`,
      match: 'older',
    };
  } else answer = { endOfSupport: below.endOfSupport, basis: `not in Microsoft's table; taken to end with ${below.version}, the listed build below it (${below.basis})`, match: 'unlisted' };

  for (const minimum of versions.minimums) {
    if (compareVersions(version, minimum.version) >= 0) continue;
    if (answer.endOfSupport === null || minimum.by < answer.endOfSupport) {
      answer = { ...answer, endOfSupport: minimum.by, basis: `below ${minimum.version}, which Microsoft requires by ${minimum.by}: below it synchronization stops` };
    }
  }
  return { ...answer, tableChecked: versions.checked };
}

export { SUPPORT_WARNING_DAYS, supportVerdict, type SupportVerdict } from '../heartbeat/sync-engines.js';
