import { describe, it, expect } from 'vitest';
import { DependencyGraph } from '../../actors/dependency-graph.ts';
import { Scheduler } from '../../actors/scheduler.ts';

const all = () => true;

describe('DependencyGraph', () => {
  it('keeps a task waiting until all its dependencies are done', () => {
    const g = new DependencyGraph();
    expect(g.declare('c', ['a', 'b'], all)).toEqual({ ok: true, unknown: [] });
    expect(g.isRunnable('c')).toBe(false);
    expect(g.waitingOn('c').sort()).toEqual(['a', 'b']);
    expect(g.markDone('a')).toEqual([]);
    expect(g.waitingOn('c')).toEqual(['b']);
    expect(g.markDone('b')).toEqual(['c']);
    expect(g.isRunnable('c')).toBe(true);
    expect(g.markDone('b')).toEqual([]);
  });

  it('returns every dependent that markDone unblocks', () => {
    const g = new DependencyGraph();
    g.declare('x', ['a'], all);
    g.declare('y', ['a'], all);
    g.declare('z', ['a', 'b'], all);
    expect(g.dependentsOf('a').sort()).toEqual(['x', 'y', 'z']);
    expect(g.markDone('a').sort()).toEqual(['x', 'y']);
  });

  it('does not wait for a dependency that is already done', () => {
    const g = new DependencyGraph();
    g.markDone('a');
    g.declare('b', ['a'], all);
    expect(g.isRunnable('b')).toBe(true);
  });

  it('refuses a self-dependency', () => {
    const g = new DependencyGraph();
    expect(g.declare('a', ['a'], all)).toEqual({ ok: false, cycle: ['a', 'a'] });
    expect(g.isRunnable('a')).toBe(true);
  });

  it('refuses a two-task cycle and records nothing', () => {
    const g = new DependencyGraph();
    g.declare('a', ['b'], all);
    expect(g.declare('b', ['a'], all)).toEqual({ ok: false, cycle: ['b', 'a', 'b'] });
    expect(g.isRunnable('b')).toBe(true);
    expect(g.dependentsOf('b')).toEqual(['a']);
    expect(g.dependentsOf('a')).toEqual([]);
  });

  it('refuses a three-task cycle naming the tasks in order', () => {
    const g = new DependencyGraph();
    g.declare('a', ['b'], all);
    g.declare('b', ['c'], all);
    expect(g.declare('c', ['x', 'a'], all)).toEqual({ ok: false, cycle: ['c', 'a', 'b', 'c'] });
    expect(g.waitingOn('c')).toEqual([]);
  });

  it('accepts a diamond, which is not a cycle', () => {
    const g = new DependencyGraph();
    g.declare('b', ['a'], all);
    g.declare('c', ['a'], all);
    expect(g.declare('d', ['b', 'c'], all)).toEqual({ ok: true, unknown: [] });
  });

  it('replaces a declaration, so a dropped edge no longer closes a cycle', () => {
    const g = new DependencyGraph();
    g.declare('a', ['b'], all);
    g.declare('a', ['c'], all);
    expect(g.waitingOn('a')).toEqual(['c']);
    expect(g.declare('b', ['a'], all).ok).toBe(true);
  });

  it('fails open on an unknown dependency and reports it', () => {
    const g = new DependencyGraph();
    const known = (id: string) => id !== 'ghost';
    expect(g.declare('a', ['ghost', 'b'], known)).toEqual({ ok: true, unknown: ['ghost'] });
    expect(g.waitingOn('a')).toEqual(['b']);
    g.declare('c', ['ghost'], known);
    expect(g.isRunnable('c')).toBe(true);
  });

  it('keeps dependents of a removed task waiting and names them', () => {
    const g = new DependencyGraph();
    g.declare('b', ['a'], all);
    g.declare('a', ['z'], all);
    expect(g.remove('a')).toEqual(['b']);
    expect(g.isRunnable('a')).toBe(true);
    expect(g.dependentsOf('z')).toEqual([]);
    expect(g.isRunnable('b')).toBe(false);
    expect(g.waitingOn('b')).toEqual(['a']);
  });

  it('rebuilds the same waiting state from its dump', () => {
    const g = new DependencyGraph();
    g.declare('b', ['a'], all);
    g.declare('c', ['a', 'b'], all);
    g.declare('d', ['c'], all);
    g.markDone('a');
    const copy = new DependencyGraph();
    copy.load(JSON.parse(JSON.stringify(g.dump())));
    expect(copy.isRunnable('b')).toBe(true);
    expect(copy.waitingOn('c')).toEqual(['b']);
    expect(copy.markDone('b')).toEqual(['c']);
    expect(copy.declare('a', ['d'], all)).toEqual({ ok: false, cycle: ['a', 'd', 'c', 'a'] });
  });

  it('finds a cycle through a long chain without overflowing the stack', () => {
    const g = new DependencyGraph();
    for (let i = 1; i < 50_000; i++) g.declare(`t${i}`, [`t${i - 1}`], all);
    const result = g.declare('t0', ['t49999'], all);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.cycle).toHaveLength(50_001);
  });

  it('drives the scheduler: a dependent job runs after its dependency is done', () => {
    const g = new DependencyGraph();
    const granted: string[] = [];
    const s = new Scheduler({ globalLimit: 4, perRepoLimit: 4, isRunnable: (t) => g.isRunnable(t), onGrant: (r) => granted.push(r.jobId) });
    g.declare('deploy', ['build'], all);
    s.request({ jobId: 'j-deploy', taskId: 'deploy', repo: 'r', requestedAt: 1 });
    s.request({ jobId: 'j-build', taskId: 'build', repo: 'r', requestedAt: 2 });
    expect(granted).toEqual(['j-build']);
    s.release('j-build');
    s.reconsider(g.markDone('build'));
    expect(granted).toEqual(['j-build', 'j-deploy']);
  });
});
