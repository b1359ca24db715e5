/** An effect failure that another attempt would not fix (a merge conflict, a closed pull request); the stage's onRed applies. */
export class NonRetriableError extends Error {
  override readonly name = 'NonRetriableError';
}

/** An effect failure worth another attempt after the machine's backoff (a 5xx, a network error, a failed deploy run). */
export class RetriableError extends Error {
  override readonly name = 'RetriableError';
}

/**
 * The effect gave up before it changed anything outside, because nobody waits for it any more (the
 * task was held, cancelled or the runtime stops); a later invocation with the same key runs afresh.
 */
export class EffectAbandonedError extends Error {
  override readonly name = 'EffectAbandonedError';
}

/** How the journal records a thrown error: its message and whether the machine may retry it. */
export interface ClassifiedError {
  error: string;
  retriable: boolean;
}

/** The one place effect errors are classified: NonRetriableError is final, anything else may be retried. */
export function classifyError(e: unknown): ClassifiedError {
  if (e instanceof NonRetriableError) return { error: e.message, retriable: false };
  if (e instanceof Error) return { error: e.message, retriable: true };
  return { error: String(e), retriable: true };
}

/** Throws EffectAbandonedError when the signal says nobody waits any more; called before each outside change. */
export function throwIfAbandoned(signal: AbortSignal, what: string): void {
  if (signal.aborted) throw new EffectAbandonedError(`effects: ${what} abandoned before it started: nobody waits for it`);
}
