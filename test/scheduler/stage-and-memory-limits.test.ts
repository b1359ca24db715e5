import { describe, expect, it } from 'vitest';
import { Scheduler, type SchedulerOptions, type SlotRequest } from '../../actors/scheduler.ts';

let clock = 0;
const req = (jobId: string, stage: string, repo = `repo-${jobId}`): SlotRequest => ({ jobId, taskId: `t-${jobId}`, repo, stage, requestedAt: ++clock });

function make(opts: Partial<SchedulerOptions> = {}) {
  const granted: string[] = [];
  const s = new Scheduler({ globalLimit: 10, perRepoLimit: 10, onGrant: (r) => granted.push(r.jobId), ...opts });
  return { s, granted };
}

describe('Scheduler: per-stage limits', () => {
  it('runs no more jobs of a stage than its limit while other stages proceed, in arrival order', () => {
    const { s, granted } = make({ perStageLimit: { development: 2 } });
    s.request(req('d1', 'development'));
    s.request(req('d2', 'development'));
    s.request(req('d3', 'development'));
    s.request(req('r1', 'review'));
    s.request(req('d4', 'development'));
    expect(granted).toEqual(['d1', 'd2', 'r1']);
    expect(s.stats()).toMatchObject({ queued: 2, running: 3, byStage: { development: { running: 2, held: 2 } } });
    s.release('d1');
    expect(granted).toEqual(['d1', 'd2', 'r1', 'd3']);
    s.release('r1');
    expect(granted).toHaveLength(4);
    s.release('d2');
    expect(granted).toEqual(['d1', 'd2', 'r1', 'd3', 'd4']);
  });

  it('counts adopted jobs against their stage and forgets a withdrawn held one', () => {
    const { s, granted } = make({ perStageLimit: { testing: 1 } });
    s.adopt(req('t0', 'testing'));
    s.request(req('t1', 'testing'));
    s.request(req('t2', 'testing'));
    expect(granted).toEqual([]);
    expect(s.cancel('t1')).toBe(true);
    s.release('t0');
    expect(granted).toEqual(['t2']);
    expect(s.stats()).toMatchObject({ queued: 0, running: 1, byStage: { testing: { running: 1, held: 0 } } });
  });

  it('holds a stage limit and a repository limit together', () => {
    const { s, granted } = make({ perRepoLimit: 1, perStageLimit: { review: 1 } });
    s.request(req('a', 'review', 'shop'));
    s.request(req('b', 'development', 'shop'));
    s.request(req('c', 'review', 'api'));
    s.request(req('d', 'development', 'api'));
    // c waits for review's slot without holding api back: d goes.
    expect(granted).toEqual(['a', 'd']);
    s.release('a');
    // review has room again, but api is at its limit: c waits for d, and shop's b goes.
    expect(granted).toEqual(['a', 'd', 'b']);
    s.release('d');
    expect(granted).toEqual(['a', 'd', 'b', 'c']);
  });
});

describe('Scheduler: memory floor', () => {
  it('starts no job while free memory is under the floor, and starts them when it is back', () => {
    let free = 100;
    const holds: number[] = [];
    const { s, granted } = make({ memory: { free: () => free, floorBytes: 500 }, onMemoryHold: (b) => holds.push(b) });
    s.request(req('a', 'development'));
    s.request(req('b', 'development'));
    expect(granted).toEqual([]);
    expect(s.stats()).toMatchObject({ queued: 2, running: 0, memoryHeld: true });
    expect(holds).toEqual([100, 100]);
    free = 1_000;
    s.reconsider();
    expect(granted).toEqual(['a', 'b']);
    expect(s.stats().memoryHeld).toBe(false);
  });

  it('checks memory before each grant, so a burst stops once memory runs short', () => {
    let free = 2_000;
    const { s, granted } = make({ memory: { free: () => free, floorBytes: 500 }, onGrant: (r) => { granted.push(r.jobId); free -= 800; } });
    for (const id of ['a', 'b', 'c', 'd']) s.request(req(id, 'development'));
    expect(granted).toEqual(['a', 'b']);
    expect(s.stats().memoryHeld).toBe(true);
  });

  it('never asks for memory when no floor is set', () => {
    const { s, granted } = make({ memory: { free: () => { throw new Error('not to be called'); }, floorBytes: 0 } });
    s.request(req('a', 'development'));
    expect(granted).toEqual(['a']);
  });
});
