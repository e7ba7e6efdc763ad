/** An overall probe deadline shared by all phases, so the whole probe honours one timeout. */
export const TIMED_OUT = Symbol('timed out');

export class Deadline {
  private readonly endsAt: number;
  constructor(
    timeoutMs: number,
    private readonly clock: () => number = performance.now.bind(performance),
  ) {
    this.endsAt = clock() + timeoutMs;
  }

  remaining(): number {
    return Math.max(0, this.endsAt - this.clock());
  }

  /** Resolves with the promise's value, or TIMED_OUT when the deadline passes first. */
  race<T>(promise: Promise<T>): Promise<T | typeof TIMED_OUT> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<typeof TIMED_OUT>((resolve) => {
      timer = setTimeout(() => resolve(TIMED_OUT), this.remaining());
    });
    return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
  }
}
