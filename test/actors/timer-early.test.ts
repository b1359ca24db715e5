import { describe, expect, it } from 'vitest';
import { createActor } from 'xstate';
import { timerActor, type RuntimeHandle, type SendOutcome, type TaskEventInput } from '../../actors/index.ts';

/** A clock whose timers wake 1 ms early, and whose time moves on while the task takes the event. */
function earlyClock() {
  let now = 1_000;
  const pending: (() => void)[] = [];
  return {
    clock: {
      now: () => now,
      setTimeout: (fn: () => void, ms: number) => {
        pending.push(() => {
          now += Math.max(0, ms - 1);
          fn();
        });
        return pending.length;
      },
      clearTimeout: () => undefined,
    },
    advance: (ms: number) => (now += ms),
    runNext: () => pending.shift()?.(),
    get armed() {
      return pending.length;
    },
  };
}

describe('the timer actor', () => {
  it('fires again when the task refused its event as early, even if the clock has passed the deadline meanwhile', async () => {
    const c = earlyClock();
    const sent: TaskEventInput[] = [];
    const rt = {
      clock: c.clock,
      send: async (taskId: string, event: TaskEventInput): Promise<SendOutcome> => {
        sent.push(event);
        // The task stamps the event with the time it was sent (1 ms early), then its mailbox takes a moment.
        const early = sent.length === 1;
        c.advance(5);
        return early ? { status: 'ignored', taskId, reason: 'early: the timer fired 1 ms before its deadline', state: 'analysis.retrying' } : { status: 'accepted', taskId, from: 'a', to: 'b' };
      },
    } as unknown as RuntimeHandle;
    const actor = createActor(timerActor(rt), { input: { taskId: 't1', deadline: 1_100 } }).start();
    c.runNext();
    await new Promise((resolve) => setImmediate(resolve));
    expect(c.armed).toBe(1);
    c.runNext();
    await new Promise((resolve) => setImmediate(resolve));
    expect(sent).toHaveLength(2);
    actor.stop();
  });

  it('fires again when the task could not take its event, as when the store refused to record an early firing', async () => {
    const c = earlyClock();
    const sent: TaskEventInput[] = [];
    const rt = {
      clock: c.clock,
      send: async (taskId: string, event: TaskEventInput): Promise<SendOutcome> => {
        sent.push(event);
        // The early firing is refused, and the entry saying so cannot be written: the disk is full.
        if (sent.length === 1) throw new Error('store: journal.jsonl: ENOSPC: no space left on device');
        return { status: 'accepted', taskId, from: 'analysis.retrying', to: 'analysis.working' };
      },
    } as unknown as RuntimeHandle;
    const actor = createActor(timerActor(rt), { input: { taskId: 't1', deadline: 1_100 } }).start();
    c.runNext();
    await new Promise((resolve) => setImmediate(resolve));
    expect(c.armed).toBe(1);
    c.runNext();
    await new Promise((resolve) => setImmediate(resolve));
    expect(sent).toHaveLength(2);
    actor.stop();
  });
});
