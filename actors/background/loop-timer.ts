import { fromCallback } from 'xstate';
import type { LoopTimerInput, TimerFiredEvent } from '../../machines/index.ts';
import type { Clock } from '../clock.ts';

/**
 * The `timer` of the background machines: sends `timer.fired` back at an absolute deadline kept in the
 * machine's context, so a restored supervisor fires at the same moment it would have (an `after` would not).
 */
export function loopTimer(clock: Clock) {
  return fromCallback<{ type: string }, LoopTimerInput>(({ input, sendBack }) => {
    const { key, deadline } = input;
    if (deadline === null) return undefined;
    const fire = () => sendBack({ type: 'timer.fired', key, deadline, at: clock.now() } satisfies TimerFiredEvent);
    const handle = clock.setTimeout(fire, Math.max(0, deadline - clock.now()));
    return () => clock.clearTimeout(handle);
  });
}
