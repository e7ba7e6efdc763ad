/**
 * A run's history, written at its end: each result and transition the run records is added
 * here as it happens, and flush writes them all at once (one batch for a probe cycle, one per
 * relay in an evaluation) instead of one round trip per result.
 *
 * History is the monitor's memory, not its alerting: a failure to write it is logged, and never
 * fails the run or loses a result (the checks, transitions and alerts are written already).
 */
import type { Store } from '../store/store.js';
import { HistoryCache, recordHistory, type HistoryEntry, type HistoryOptions } from './history-repository.js';

export class HistoryRecorder {
  private entries: HistoryEntry[] = [];
  constructor(
    private readonly store: Store,
    private readonly options: HistoryOptions = {},
  ) {}

  add(entry: HistoryEntry): void {
    this.entries.push(entry);
  }

  /** Writes what was added since the last flush; never rejects. */
  async flush(now: Date): Promise<void> {
    const entries = this.entries;
    this.entries = [];
    if (entries.length === 0) return;
    try {
      await recordHistory(this.store, entries, now, this.options);
    } catch (err) {
      this.options.log?.(`history: ${entries.length} result(s) and transition(s) not recorded: ${(err as Error).message}`);
    }
  }
}

/**
 * What a run is told of history: false to leave it out (only to measure what it costs), else
 * the process's row cache (none: every row is read before it is written).
 */
export type HistorySetting = HistoryCache | false | undefined;

export function historyRecorder(
  store: Store,
  settings: { readonly historyDays: number },
  history: HistorySetting,
  log?: (line: string) => void,
): HistoryRecorder | false {
  if (history === false) return false;
  return new HistoryRecorder(store, { days: settings.historyDays, ...(history && { cache: history }), ...(log && { log }) });
}
