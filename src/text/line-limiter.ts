/**
 * At most `perMinute` lines of one kind per minute, then one summary of how many were held back.
 *
 * For lines anyone on the network can cause (a refused heartbeat needs no secret): without a
 * limit, a flood of bad requests becomes a flood of log lines, which costs money under
 * Application Insights and buries the lines that matter. Pure: the state and the clock are
 * passed in; LineLimiter only keeps the state for a process.
 *
 * The summary is told with the first line of the next minute, so it always comes with a line
 * that shows the refusals go on; a flood that stops leaves its count untold until the next one.
 */
export interface LimiterState {
  /** Start of the current minute-long window, ms since the epoch. */
  readonly windowStart: number;
  readonly logged: number;
  /** Lines held back in this window. */
  readonly held: number;
}

export interface LimitOptions {
  readonly perMinute: number;
  /** The one line telling how many were held back, and since when. */
  readonly summary: (held: number, since: Date) => string;
}

export interface LimitDecision {
  readonly state: LimiterState;
  /** What to log now: nothing, the line, or a summary then the line. */
  readonly lines: readonly string[];
}

const WINDOW_MS = 60_000;

export function limitLine(state: LimiterState | undefined, line: string, now: Date, options: LimitOptions): LimitDecision {
  const t = now.getTime();
  if (!state || t - state.windowStart >= WINDOW_MS || t < state.windowStart) {
    const summary = state && state.held > 0 ? [options.summary(state.held, new Date(state.windowStart))] : [];
    return { state: { windowStart: t, logged: 1, held: 0 }, lines: [...summary, line] };
  }
  if (state.logged < options.perMinute) return { state: { ...state, logged: state.logged + 1 }, lines: [line] };
  return { state: { ...state, held: state.held + 1 }, lines: [] };
}

/** limitLine with its state kept, one per process (or per Functions worker). */
export class LineLimiter {
  private state: LimiterState | undefined;

  constructor(private readonly options: LimitOptions) {}

  admit(line: string, now: Date): readonly string[] {
    const decision = limitLine(this.state, line, now, this.options);
    this.state = decision.state;
    return decision.lines;
  }
}
