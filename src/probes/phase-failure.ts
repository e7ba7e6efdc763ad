import type { FailureCode, Phase } from './result.js';

/** Ends a probe with a stable code and the phase it failed in; turned into a result, never thrown out of a probe. */
export class PhaseFailure extends Error {
  override readonly name = 'PhaseFailure';
  constructor(
    readonly code: FailureCode,
    readonly phase: Phase,
    message: string,
  ) {
    super(message);
  }
}
