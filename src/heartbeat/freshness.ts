/**
 * A relay's dead-man's switch, derived and never stored: from the time of its last accepted
 * heartbeat, its period and grace, and the clock.
 *
 *   new   no heartbeat yet
 *   up    the last heartbeat is at most one period old
 *   late  older than a period, but within period + grace
 *   down  older than period + grace
 */
import type { RelayConfig } from '../config/relays.js';

export type RelayState = 'new' | 'up' | 'late' | 'down';

export function relayState(lastHeartbeatAt: string | undefined, config: RelayConfig, now: Date): RelayState {
  if (!lastHeartbeatAt) return 'new';
  const ageSeconds = (now.getTime() - Date.parse(lastHeartbeatAt)) / 1000;
  if (ageSeconds <= config.periodSeconds) return 'up';
  if (ageSeconds <= config.periodSeconds + config.graceSeconds) return 'late';
  return 'down';
}

/** When the current derived state began: the last heartbeat, or when it became late / down. */
export function relayStateSince(lastHeartbeatAt: string | undefined, config: RelayConfig, now: Date): string | null {
  if (!lastHeartbeatAt) return null;
  const last = Date.parse(lastHeartbeatAt);
  const offset = { new: 0, up: 0, late: config.periodSeconds, down: config.periodSeconds + config.graceSeconds }[relayState(lastHeartbeatAt, config, now)];
  return new Date(last + offset * 1000).toISOString();
}

/** The failure a missed heartbeat feeds into the check pipeline. */
export function missedHeartbeat(relayId: string, lastHeartbeatAt: string | undefined, config: RelayConfig, now: Date) {
  const since = lastHeartbeatAt ? `for ${Math.round((now.getTime() - Date.parse(lastHeartbeatAt)) / 1000)} s` : 'ever';
  return {
    ok: false,
    startedAt: now.toISOString(),
    failure: {
      code: 'heartbeat_missing',
      phase: 'heartbeat',
      message: `no heartbeat from relay ${relayId} ${since} (period ${config.periodSeconds} s + grace ${config.graceSeconds} s)`,
    },
  } as const;
}
