import { fromCallback } from 'xstate';
import type { Clock } from '../../actors/index.ts';
import { sweepLoop, type LoopTimerInput } from '../../machines/index.ts';

/** A background loop whose timer throws while `crash.on` is set (a bug in the loop), and otherwise works on the clock. */
export function flakyLoop(clock: Clock, crash: { on: boolean; count: number }) {
  const timer = fromCallback<{ type: string }, LoopTimerInput>(({ input, sendBack }) => {
    if (crash.on) {
      crash.count++;
      throw new Error('loop broke');
    }
    const { key, deadline } = input;
    if (deadline === null) return undefined;
    const handle = clock.setTimeout(() => sendBack({ type: 'timer.fired', key, deadline, at: clock.now() }), deadline - clock.now());
    return () => clock.clearTimeout(handle);
  });
  return sweepLoop.provide({ actors: { timer } });
}
