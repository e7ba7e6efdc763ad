/**
 * Check records and transitions in the store. Updating a check is read-modify-write under the
 * record's ETag: when two evaluators race, the loser re-reads and re-applies its result to the
 * winner's record, so no result and no transition is lost or recorded twice.
 */
import { applyResult, newCheck, type CheckIdentity, type CheckRecord, type CheckResult, type Thresholds, type Transition } from '../checks/state.js';
import { StoreConflictError, type Store, type Versioned } from '../store/store.js';

export const CHECKS = 'checks';
export const TRANSITIONS = 'transitions';
const MAX_ATTEMPTS = 5;

/**
 * `known` is the check as the caller already read it (with its ETag), to save a read when
 * many checks are updated at once; a conflict falls back to reading it afresh.
 */
export async function recordResult(
  store: Store,
  identity: CheckIdentity,
  result: CheckResult,
  thresholds: Thresholds,
  now: Date,
  known?: Versioned<CheckRecord> | null,
): Promise<{ check: CheckRecord; transition?: Transition; etag?: string }> {
  for (let attempt = 1; ; attempt++) {
    const current = attempt === 1 && known !== undefined ? known : await store.get<CheckRecord>(CHECKS, identity.id);
    const base = current?.value ?? newCheck(identity, now);
    const input = { ...base, ...identity };
    const applied = applyResult(input, result, thresholds);
    if (current && applied.check === input) return { ...applied, etag: current.etag }; // a repeat: nothing to write
    const outcome = { ...applied, check: { ...applied.check, reportedAt: now.toISOString() } };
    let etag: string;
    try {
      etag = current ? await store.replace(CHECKS, identity.id, outcome.check, current.etag) : await store.insert(CHECKS, identity.id, outcome.check);
    } catch (err) {
      if (err instanceof StoreConflictError && attempt < MAX_ATTEMPTS) continue;
      throw err;
    }
    if (outcome.transition) await recordTransition(store, outcome.transition);
    return { ...outcome, etag };
  }
}

/** Transitions are keyed by check and time so a check's history lists in order. */
async function recordTransition(store: Store, transition: Transition): Promise<void> {
  try {
    await store.insert(TRANSITIONS, `${transition.checkId}|${transition.at}`, transition);
  } catch (err) {
    // The same transition at the same instant is already recorded: nothing is lost.
    if (!(err instanceof StoreConflictError)) throw err;
  }
}

export async function listChecks(store: Store): Promise<CheckRecord[]> {
  return (await store.list<CheckRecord>(CHECKS)).map((e) => e.value);
}

export async function listTransitions(store: Store, checkId: string): Promise<Transition[]> {
  return (await store.list<Transition>(TRANSITIONS, { prefix: `${checkId}|` })).map((e) => e.value);
}
