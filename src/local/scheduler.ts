/**
 * Runs named jobs on NCRONTAB schedules, as the Functions host runs timer triggers: a run that
 * is still going when its next occurrence comes is not started twice (the host's singleton lock
 * does the same), and stop() waits for runs in flight.
 */
import type { Schedule } from '../schedule/ncrontab.js';

export interface Job {
  readonly name: string;
  readonly schedule: Schedule;
  run(): Promise<void>;
}

export interface Clock {
  now(): Date;
  setTimeout(fn: () => void, ms: number): { unref?(): unknown } | NodeJS.Timeout;
  clearTimeout(handle: unknown): void;
}

export const systemClock: Clock = {
  now: () => new Date(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/** setTimeout cannot wait longer than 2^31-1 ms; longer waits are re-armed in steps. */
const MAX_WAIT_MS = 2 ** 31 - 1;

export interface Scheduler {
  /** Runs a job now, outside its schedule (used for the first cycle at start-up). */
  runNow(name: string): Promise<void>;
  stop(): Promise<void>;
}

export function startScheduler(jobs: readonly Job[], onError: (job: Job, err: unknown) => void, clock: Clock = systemClock): Scheduler {
  const timers = new Map<string, unknown>();
  const running = new Map<string, Promise<void>>();
  let stopped = false;

  const execute = (job: Job): Promise<void> => {
    const inFlight = running.get(job.name);
    if (inFlight) return inFlight;
    const run = job
      .run()
      .catch((err: unknown) => onError(job, err))
      .finally(() => running.delete(job.name));
    running.set(job.name, run);
    return run;
  };

  const arm = (job: Job, due: Date): void => {
    if (stopped) return;
    const wait = Math.min(MAX_WAIT_MS, Math.max(0, due.getTime() - clock.now().getTime()));
    timers.set(
      job.name,
      clock.setTimeout(() => {
        if (clock.now() < due) return arm(job, due);
        void execute(job);
        arm(job, job.schedule.next(due));
      }, wait),
    );
  };

  for (const job of jobs) arm(job, job.schedule.next(clock.now()));

  return {
    runNow(name) {
      const job = jobs.find((j) => j.name === name);
      if (!job) return Promise.reject(new Error(`no job named ${name}`));
      return execute(job);
    },
    async stop() {
      stopped = true;
      for (const handle of timers.values()) clock.clearTimeout(handle);
      await Promise.all(running.values());
    },
  };
}
