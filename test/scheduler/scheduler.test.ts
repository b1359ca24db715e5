import { describe, it, expect } from 'vitest';
import { Scheduler } from '../../actors/scheduler.ts';
import type { SchedulerOptions, SlotRequest } from '../../actors/scheduler.ts';

let clock = 0;
const req = (jobId: string, repo = 'r1', taskId = `t-${jobId}`, requestedAt = ++clock): SlotRequest => ({ jobId, taskId, repo, requestedAt });

function make(opts: Partial<SchedulerOptions> = {}) {
  const granted: string[] = [];
  const s = new Scheduler({ globalLimit: 2, perRepoLimit: 10, onGrant: (r) => granted.push(r.jobId), ...opts });
  return { s, granted };
}

describe('Scheduler', () => {
  it('never runs more jobs than the global limit', () => {
    const { s, granted } = make({ globalLimit: 3 });
    for (let i = 0; i < 10; i++) s.request(req(`j${i}`, `repo${i}`));
    expect(granted).toEqual(['j0', 'j1', 'j2']);
    expect(s.stats()).toMatchObject({ queued: 7, running: 3, granted_total: 3 });
    s.release('j1');
    expect(granted).toEqual(['j0', 'j1', 'j2', 'j3']);
    expect(s.stats().running).toBe(3);
  });

  it('holds a repository at its limit while other repositories proceed', () => {
    const { s, granted } = make({ globalLimit: 5, perRepoLimit: { busy: 1, '*': 2 } });
    s.request(req('a1', 'busy'));
    s.request(req('a2', 'busy'));
    s.request(req('a3', 'busy'));
    s.request(req('b1', 'other'));
    s.request(req('b2', 'other'));
    s.request(req('b3', 'other'));
    expect(granted).toEqual(['a1', 'b1', 'b2']);
    expect(s.stats().byRepo).toEqual({ busy: { queued: 2, running: 1 }, other: { queued: 1, running: 2 } });
    s.release('a1');
    expect(granted).toEqual(['a1', 'b1', 'b2', 'a2']);
  });

  it('applies a single numeric limit to every repository', () => {
    const { s, granted } = make({ globalLimit: 10, perRepoLimit: 1 });
    s.request(req('a1', 'x'));
    s.request(req('a2', 'x'));
    s.request(req('b1', 'y'));
    expect(granted).toEqual(['a1', 'b1']);
  });

  it('grants in order of request time, ties in order of arrival', () => {
    const { s, granted } = make({ globalLimit: 1 });
    s.request(req('hold', 'r', 't', 0));
    s.request(req('late', 'r1', 'tl', 300));
    s.request(req('early', 'r2', 'te', 100));
    s.request(req('tie-first', 'r3', 'tf', 200));
    s.request(req('tie-second', 'r1', 'ts', 200));
    expect(s.queued().map((r) => r.jobId)).toEqual(['early', 'tie-first', 'tie-second', 'late']);
    for (const id of ['hold', 'early', 'tie-first', 'tie-second']) s.release(id);
    expect(granted).toEqual(['hold', 'early', 'tie-first', 'tie-second', 'late']);
  });

  it('lets later jobs run past a job whose dependencies are not done', () => {
    const blocked = new Set(['tA']);
    const { s, granted } = make({ globalLimit: 1, isRunnable: (t) => !blocked.has(t) });
    s.request(req('hold', 'r1'));
    s.request(req('a', 'r1', 'tA'));
    s.request(req('b', 'r1', 'tB'));
    s.release('hold');
    expect(granted).toEqual(['hold', 'b']);
    expect(s.stats()).toMatchObject({ queued: 1, running: 1 });
    expect(s.queued().map((r) => r.jobId)).toEqual(['a']);
  });

  it('grants a waiting job on reconsider once its dependency is done, ahead of later requests', () => {
    const blocked = new Set(['tA']);
    const { s, granted } = make({ globalLimit: 1, isRunnable: (t) => !blocked.has(t) });
    s.request(req('a', 'r1', 'tA'));
    s.request(req('b', 'r1', 'tB'));
    s.request(req('c', 'r1', 'tC'));
    s.reconsider();
    expect(granted).toEqual(['b']);
    blocked.delete('tA');
    s.reconsider(['tA']);
    expect(granted).toEqual(['b']);
    s.release('b');
    expect(granted).toEqual(['b', 'a']);
  });

  it('grants at once on reconsider when a slot is free', () => {
    const blocked = new Set(['tA']);
    const { s, granted } = make({ isRunnable: (t) => !blocked.has(t) });
    s.request(req('a', 'r1', 'tA'));
    expect(granted).toEqual([]);
    blocked.delete('tA');
    s.reconsider();
    expect(granted).toEqual(['a']);
  });

  it('ignores a second request for a queued or running job', () => {
    const { s, granted } = make({ globalLimit: 1 });
    s.request(req('a'));
    s.request(req('b'));
    s.request(req('a'));
    s.request(req('b'));
    expect(granted).toEqual(['a']);
    expect(s.stats()).toMatchObject({ queued: 1, running: 1, granted_total: 1 });
  });

  it('ignores a second release and a release of an unknown job', () => {
    const { s, granted } = make({ globalLimit: 1 });
    s.request(req('a'));
    s.request(req('b'));
    s.request(req('c'));
    s.release('a');
    s.release('a');
    s.release('nobody');
    expect(granted).toEqual(['a', 'b']);
    expect(s.stats()).toMatchObject({ queued: 1, running: 1 });
  });

  it('withdraws a queued job on cancel and leaves a running one its slot', () => {
    const { s, granted } = make({ globalLimit: 1 });
    s.request(req('a'));
    s.request(req('b'));
    s.request(req('c'));
    expect(s.cancel('b')).toBe(true);
    expect(s.cancel('a')).toBe(false);
    expect(s.running().map((r) => r.jobId)).toEqual(['a']);
    s.release('a');
    expect(granted).toEqual(['a', 'c']);
  });

  it('stays consistent when onGrant releases and requests jobs', () => {
    const granted: string[] = [];
    let n = 0;
    const s: Scheduler = new Scheduler({
      globalLimit: 2,
      perRepoLimit: 1,
      onGrant: (r) => {
        granted.push(r.jobId);
        // Each job finishes at once and asks for its successor, until five have run.
        s.release(r.jobId);
        if (++n < 5) s.request(req(`next${n}`, `repo${n % 3}`));
      },
    });
    s.request(req('first', 'repo0'));
    expect(granted).toEqual(['first', 'next1', 'next2', 'next3', 'next4']);
    expect(s.stats()).toEqual({ queued: 0, running: 0, byRepo: {}, byStage: {}, memoryHeld: false, granted_total: 5 });
  });

  it('runs a chain of 100,000 jobs that each finish inside onGrant', () => {
    let n = 0;
    const s: Scheduler = new Scheduler({
      globalLimit: 1,
      perRepoLimit: 1,
      onGrant: (r) => {
        n++;
        s.release(r.jobId);
        if (n < 100_000) s.request(req(`j${n}`));
      },
    });
    s.request(req('j0'));
    expect(n).toBe(100_000);
    expect(s.stats().granted_total).toBe(100_000);
  });

  it('grants the slot a re-entrant release frees before the outer call returns', () => {
    const granted: string[] = [];
    const s: Scheduler = new Scheduler({
      globalLimit: 1,
      perRepoLimit: 5,
      onGrant: (r) => {
        granted.push(r.jobId);
        if (r.jobId === 'a') s.release('a');
      },
    });
    s.request(req('b'));
    s.request(req('a'));
    s.request(req('c'));
    s.release('b');
    expect(granted).toEqual(['b', 'a', 'c']);
    expect(s.running().map((r) => r.jobId)).toEqual(['c']);
  });

  it('adopts a running job without granting it and counts it against the limits', () => {
    const { s, granted } = make({ globalLimit: 2, perRepoLimit: 1 });
    s.adopt(req('old', 'r1'));
    s.adopt(req('old', 'r1'));
    s.request(req('same-repo', 'r1'));
    s.request(req('other-repo', 'r2'));
    s.request(req('third', 'r3'));
    expect(granted).toEqual(['other-repo']);
    expect(s.stats()).toMatchObject({ queued: 2, running: 2, granted_total: 1 });
    s.release('old');
    expect(granted).toEqual(['other-repo', 'same-repo']);
  });

  it('adopts a job that was queued without leaving it in the queue', () => {
    const { s, granted } = make({ globalLimit: 1 });
    s.request(req('a'));
    s.request(req('b'));
    s.adopt(req('b'));
    expect(s.stats()).toMatchObject({ queued: 0, running: 2 });
    s.release('a');
    expect(granted).toEqual(['a']);
  });

  it('refuses limits that are not non-negative integers', () => {
    expect(() => make({ globalLimit: -1 })).toThrow(/^scheduler: globalLimit/);
    expect(() => make({ perRepoLimit: { '*': 1.5 } })).toThrow(/^scheduler: perRepoLimit\[\*\]/);
  });

  it('matches a brute-force reference on a long random workload', () => {
    let seed = 7;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const blocked = new Set<string>();
    const granted: string[] = [];
    const s = new Scheduler({
      globalLimit: 4,
      perRepoLimit: { r0: 1, '*': 2 },
      isRunnable: (t) => !blocked.has(t),
      onGrant: (r) => granted.push(r.jobId),
    });
    // The reference scans everything: earliest runnable request whose repository has room.
    const queue: SlotRequest[] = [];
    const running: SlotRequest[] = [];
    const refGranted: string[] = [];
    const limit = (repo: string) => (repo === 'r0' ? 1 : 2);
    const refDispatch = () => {
      for (;;) {
        if (running.length >= 4) return;
        const sorted = queue.map((r, i) => ({ r, i })).sort((a, b) => a.r.requestedAt - b.r.requestedAt || a.i - b.i);
        const next = sorted.find(({ r }) => !blocked.has(r.taskId) && running.filter((x) => x.repo === r.repo).length < limit(r.repo));
        if (next === undefined) return;
        queue.splice(queue.indexOf(next.r), 1);
        running.push(next.r);
        refGranted.push(next.r.jobId);
      }
    };
    for (let step = 0; step < 3000; step++) {
      const op = rand(10);
      if (op < 5) {
        const r = req(`j${step}`, `r${rand(4)}`, `t${rand(12)}`, rand(500));
        s.request(r);
        queue.push(r);
      } else if (op < 8 && running.length > 0) {
        const r = running[rand(running.length)] as SlotRequest;
        s.release(r.jobId);
        running.splice(running.indexOf(r), 1);
      } else if (op < 9 && queue.length > 0) {
        const r = queue[rand(queue.length)] as SlotRequest;
        s.cancel(r.jobId);
        queue.splice(queue.indexOf(r), 1);
      } else {
        const t = `t${rand(12)}`;
        if (blocked.has(t)) blocked.delete(t);
        else blocked.add(t);
        s.reconsider();
      }
      refDispatch();
      expect(granted).toEqual(refGranted);
    }
    expect(s.stats()).toMatchObject({ queued: queue.length, running: running.length });
  });
});
