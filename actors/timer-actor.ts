import { fromCallback } from 'xstate';
import { EARLY_TIMER, type TimerInput } from '../machines/index.ts';
import type { RuntimeHandle } from './types.ts';

/** How long a timer whose event the task could not take waits before firing again. */
const RETRY_MS = 1_000;

/**
 * Fires `timer.fired` at an absolute deadline kept in the task's context. XState's `after` is lost on
 * restore; this actor is re-invoked by the restored state and fires at the same moment.
 */
export function timerActor(rt: RuntimeHandle) {
  return fromCallback<{ type: string }, TimerInput>(({ input }) => {
    const { deadline, taskId } = input;
    if (deadline === null) return undefined;
    let handle: unknown;
    let stopped = false;
    const arm = () => {
      handle = rt.clock.setTimeout(fire, Math.max(0, deadline - rt.clock.now()));
    };
    // The task refuses a timer that fires before its deadline (a clock that woke early): wait out the rest.
    // The refusal decides, not the clock now: time moves on while the task takes the event, and a timer
    // that gave up because the deadline had passed by then would leave the task waiting forever.
    // An event the task could not take (the store refused the commit) is fired again after a while. A refused
    // transition drops the task's actor and this timer with it (the revived actor fires anew), but a refused
    // refusal (an early firing whose history entry the store did not take) leaves the actor as it was.
    const fire = () => void rt.send(taskId, { type: 'timer.fired', deadline }, { source: 'timer' }).then(
      (outcome) => {
        if (!stopped && outcome.status === 'ignored' && outcome.reason.startsWith(EARLY_TIMER)) arm();
      },
      () => {
        if (!stopped) handle = rt.clock.setTimeout(fire, RETRY_MS);
      },
    );
    arm();
    return () => {
      stopped = true;
      rt.clock.clearTimeout(handle);
    };
  });
}
