import { fromCallback } from 'xstate';
import { EARLY_TIMER, type TimerInput } from '../machines/index.ts';
import type { RuntimeHandle } from './types.ts';

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
    const fire = () => void rt.send(taskId, { type: 'timer.fired', deadline }, { source: 'timer' })
      .then((outcome) => {
        if (!stopped && outcome.status === 'ignored' && outcome.reason.startsWith(EARLY_TIMER)) arm();
      })
      .catch(() => undefined);
    arm();
    return () => {
      stopped = true;
      rt.clock.clearTimeout(handle);
    };
  });
}
