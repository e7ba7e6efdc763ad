/**
 * The last line of defence for `serve`: an exception nothing caught (a bug in a socket
 * callback, a library's stray promise) is logged and counted, and the monitor goes on. With
 * the in-memory store, exiting would lose every check's state, and the probes, evaluations
 * and alerts would stop with it, which is worse than any one wrong request.
 */
export interface ProcessGuard {
  /** Exceptions and rejections caught since install. */
  readonly caught: () => number;
  uninstall(): void;
}

export function guardProcess(log: (line: string) => void, target: NodeJS.Process = process): ProcessGuard {
  let caught = 0;
  const onError = (kind: string) => (err: unknown): void => {
    caught++;
    const text = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    log(`${kind} (${caught} since start, the monitor goes on): ${text}`);
  };
  const onException = onError('uncaught exception');
  const onRejection = onError('unhandled rejection');
  target.on('uncaughtException', onException);
  target.on('unhandledRejection', onRejection);
  return {
    caught: () => caught,
    uninstall() {
      target.off('uncaughtException', onException);
      target.off('unhandledRejection', onRejection);
    },
  };
}
