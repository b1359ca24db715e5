import { describe, expect, it } from 'vitest';
import { parseFaults } from '../../sim/faults.ts';
import { runSeed } from '../../sim/run-seed.ts';
import { runSeeds } from '../../sim/sim-runner.ts';

const base = { tasks: 3, steps: 400, settleLimitMs: 36 * 3_600_000 };

describe('the simulator', () => {
  it('gives the same trace for the same seed, event for event', async () => {
    const rates = parseFaults('');
    const a = await runSeed({ ...base, seed: 7, rates });
    const b = await runSeed({ ...base, seed: 7, rates });
    expect(a.trace.length).toBeGreaterThan(50);
    expect(b.trace).toEqual(a.trace);
    expect(b.digest).toBe(a.digest);
    const c = await runSeed({ ...base, seed: 8, rates });
    expect(c.digest).not.toBe(a.digest);
  });

  it('brings every task to done without faults, and its tracker issue to Done through the status mirror', async () => {
    const r = await runSeed({ ...base, seed: 1, rates: parseFaults('none') });
    expect(r.violations).toEqual([]);
    expect(r.tasks).toBe(3);
    expect(r.settleMs.every((ms) => ms !== null)).toBe(true);
    expect(r.tracker.states).toEqual({ 'issue-1': 'state-done', 'issue-2': 'state-done', 'issue-3': 'state-done' });
    // In Progress (analysis, development), In Review (review, testing), Deploying (both deploys), Done: each once.
    expect(r.tracker.writes).toBe(3 * 4);
    expect(r.tracker.rewrittenAfterCrash).toBe(0);
  });

  it('keeps its tracker invariant under crashes and lost answers: a change is written again only by a later boot', async () => {
    // Lost answers hold a write in flight for the client's timeout, long enough for crashes to land inside it.
    const rates = parseFaults('none,crash=0.03,apiLost=0.6');
    let rewrites = 0;
    for (const seed of [1, 2, 3, 4]) {
      const r = await runSeed({ ...base, seed, rates });
      expect(r.violations, `seed ${seed}`).toEqual([]);
      rewrites += r.tracker.rewrittenAfterCrash;
    }
    expect(rewrites, 'some change was written again after a crash lost its answer').toBeGreaterThan(0);
  });

  it('finds a task that does not settle in time, and shrinks the run to the faults that matter', async () => {
    const lines: string[] = [];
    // Agents that hang wait out their job timeout (30 min), longer than the 10 min the run allows to settle.
    const summary = await runSeeds({ ...base, firstSeed: 2, seeds: 1, steps: 40, rates: parseFaults('none,agentHang=1'), settleLimitMs: 10 * 60_000, log: (l) => lines.push(l) });
    expect(summary.invariant_violations).toBeGreaterThan(0);
    expect(lines.join('\n')).toContain('replay: npm run simulate -- --seed 2');
    expect(lines.join('\n')).toMatch(/shrunk to \d+ of \d+ faults/);
  });
});
