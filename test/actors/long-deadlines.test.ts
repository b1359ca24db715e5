import { afterEach, describe, expect, it, vi } from 'vitest';
import { createActor } from 'xstate';
import { systemClock } from '../../actors/index.ts';
import { compileTaskMachine, describeState, type TaskEvent } from '../../machines/index.ts';
import { quietImplementations } from '../support/quiet-implementations.ts';

const DAY = 24 * 60 * 60_000;
/** The longest delay a Node timer takes; anything longer used to be cut to this and fire early. */
const CAP = 2 ** 31 - 1;

afterEach(() => {
  vi.useRealTimers();
});

describe('deadlines beyond the 24.8 days a Node timer can wait', () => {
  it('the system clock fires a 30-day timer after 30 days, not at the cap', () => {
    vi.useFakeTimers();
    const fired = vi.fn();
    systemClock.setTimeout(fired, 30 * DAY);
    vi.advanceTimersByTime(CAP + 1);
    expect(fired).not.toHaveBeenCalled();
    vi.advanceTimersByTime(30 * DAY - CAP - 2);
    expect(fired).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(fired).toHaveBeenCalledTimes(1);
  });

  it('a long timer cleared after it was re-armed never fires', () => {
    vi.useFakeTimers();
    const fired = vi.fn();
    const handle = systemClock.setTimeout(fired, 60 * DAY);
    vi.advanceTimersByTime(CAP + 10);
    systemClock.clearTimeout(handle);
    vi.advanceTimersByTime(60 * DAY);
    expect(fired).not.toHaveBeenCalled();
  });

  it('the task refuses its own timer when it fires before the deadline it names', () => {
    const actor = createActor(compileTaskMachine().provide({ actors: quietImplementations(null as never) as never }), {
      input: { id: 't1', repo: 'shop', branch: 'conveyor/t1', createdAt: 0, limits: { maxRetries: 3, maxJobAttempts: 3, jobTimeoutMs: 40 * DAY, baseBackoffMs: 1000, gateTimeoutMs: DAY } },
    }).start();
    const send = (e: TaskEvent) => actor.send(e);
    send({ type: 'stage.prepared', at: 2 });
    const jobId = actor.getSnapshot().context.job!.id;
    send({ type: 'job.started', jobId, at: 3, timeoutMs: 40 * DAY });
    expect(describeState(actor.getSnapshot().value)).toBe('analysis.working.running');
    const deadline = actor.getSnapshot().context.deadline!;
    expect(deadline).toBeGreaterThan(CAP);
    // A timer capped at 2^31-1 ms fires with the right deadline but far too early.
    send({ type: 'timer.fired', deadline, at: 3 + CAP });
    expect(describeState(actor.getSnapshot().value)).toBe('analysis.working.running');
    expect(actor.getSnapshot().context.job?.attempt).toBe(1);
    send({ type: 'timer.fired', deadline, at: deadline });
    expect(describeState(actor.getSnapshot().value)).toBe('analysis.retrying');
    actor.stop();
  });
});
