/**
 * How a state of the task chart is kept from waiting forever (ARCHITECTURE invariant 8, SPEC R36), as the
 * `bound` of its `meta`: a deadline (a timer invoked on the state), a sweep of the reaper, a human
 * (a decision, an escalation, a hold), or nothing left to wait for (a final state). A test walks every
 * compiled chart and refuses a state without one; the reaper picks the states it sweeps by it.
 */
export type Bound = 'deadline' | 'reaper' | 'human' | 'final';

export const BOUNDS: readonly Bound[] = ['deadline', 'reaper', 'human', 'final'];

/** The meta of a state bounded so. */
export const bound = (by: Bound) => ({ meta: { bound: by } });
