import { describe, expect, it } from 'vitest';
import { createActor } from 'xstate';
import { timerActor, type RuntimeHandle, type SendOutcome } from '../../actors/index.ts';

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

type EarlyClock = ReturnType<typeof earlyClock>;

/**
 * A timer due at 1,100 on an early clock, whose task answers its n-th firing with `answer`: lets it fire, sees
 * it armed again, lets that one fire; the number of firings the task saw.
 */
async function firings(answer: (n: number, taskId: string, c: EarlyClock) => SendOutcome): Promise<number> {
  const c = earlyClock();
  let sent = 0;
  const rt = { clock: c.clock, send: async (taskId: string) => answer(++sent, taskId, c) } as unknown as RuntimeHandle;
  const actor = createActor(timerActor(rt), { input: { taskId: 't1', deadline: 1_100 } }).start();
  c.runNext();
  await new Promise((resolve) => setImmediate(resolve));
  expect(c.armed).toBe(1);
  c.runNext();
  await new Promise((resolve) => setImmediate(resolve));
  actor.stop();
  return sent;
}

describe('the timer actor', () => {
  it('fires again when the task refused its event as early, even if the clock has passed the deadline meanwhile', async () => {
    const fired = await firings((n, taskId, c) => {
      // The task stamps the event with the time it was sent (1 ms early), then its mailbox takes a moment.
      c.advance(5);
      return n === 1 ? { status: 'ignored', taskId, reason: 'early: the timer fired 1 ms before its deadline', state: 'analysis.retrying' } : { status: 'accepted', taskId, from: 'a', to: 'b' };
    });
    expect(fired).toBe(2);
  });

  it('fires again when the task could not take its event, as when the store refused to record an early firing', async () => {
    const fired = await firings((n, taskId) => {
      // The early firing is refused, and the entry saying so cannot be written: the disk is full.
      if (n === 1) throw new Error('store: journal.jsonl: ENOSPC: no space left on device');
      return { status: 'accepted', taskId, from: 'analysis.retrying', to: 'analysis.working' };
    });
    expect(fired).toBe(2);
  });
});
