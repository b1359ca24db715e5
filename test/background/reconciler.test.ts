import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ForgeStatusProbe, TrackerClient, type Background, type BackgroundConfig, type GateProbe } from '../../actors/index.ts';
import { defaultTrackerRouting } from '../../server/default-tracker.ts';
import { ForgeDouble } from '../support/forge-double.ts';
import { TrackerDouble } from '../support/tracker-double.ts';
import { makeWorld, REPO, taskAt, taskInDevelopment, type World } from './harness.ts';

const PROJECT = 'proj-1';
const SHA = 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678';
const routing = { ...defaultTrackerRouting, projectRepos: { [PROJECT]: REPO } };
const planeStates = Object.entries(defaultTrackerRouting.states).map(([id, s]) => ({ id, name: s.name ?? id, group: s.group }));
const config: BackgroundConfig = {
  reconciler: { intervalMs: 1_000, graceMs: 5_000 },
  reaper: { enabled: false },
};

/** A task whose CI keeps failing until its retries are spent. */
async function escalatedTask(world: World): Promise<string> {
  const shaOf = (i: number) => `0badc0de${i}`.padEnd(40, '0');
  const id = await taskInDevelopment(world, shaOf(0));
  const state = () => world.conveyor.task(id)?.state ?? '';
  for (let i = 0; i < 10 && state() !== 'escalated'; i++) {
    await world.until('the task waits at a gate', () => ['development.gating', 'escalated'].includes(state()));
    if (state() === 'escalated') break;
    // Each retry pushes a new head, whose CI fails again.
    await world.conveyor.send(id, { type: 'pr.synchronized', sha: shaOf(i) }, { source: 'webhook' });
    await world.conveyor.send(id, { type: 'ci.status', sha: shaOf(i), state: 'failure', context: 'ci/build' }, { source: 'webhook' });
  }
  return id;
}

describe('reconciler', () => {
  let world: World;
  let tracker: TrackerDouble;
  let forge: ForgeDouble;

  beforeEach(async () => {
    world = await makeWorld();
    tracker = await TrackerDouble.start();
    tracker.setStates(PROJECT, planeStates);
    forge = await ForgeDouble.start();
  });

  afterEach(async () => {
    await world.close();
    await tracker.close();
    await forge.close();
  });

  function start(extra: { probe?: GateProbe; config?: BackgroundConfig } = {}): Background {
    const client = new TrackerClient({ apiBase: tracker.apiBase, workspace: tracker.workspace, token: tracker.token, now: () => world.clock.now(), statesTtlMs: 60_000 });
    const bg = world.background({
      config: extra.config ?? config,
      tracker: { client, routing, projects: [PROJECT] },
      probe: extra.probe ?? new ForgeStatusProbe({ forges: { [REPO]: forge.config() } }),
    });
    bg.start();
    return bg;
  }

  it('creates the task of an issue In Progress whose start webhook was lost', async () => {
    tracker.setIssue({ id: 'issue-7', name: 'Add search', project: PROJECT, state: 'state-in-progress' });
    const bg = start();
    await world.advance(1_000);
    const taskId = world.conveyor.taskForIssue('issue-7');
    expect(taskId).toBeDefined();
    expect(world.conveyor.task(taskId!)).toMatchObject({ title: 'Add search', repo: REPO });
    expect(world.conveyor.history(taskId!)[0]).toMatchObject({ source: 'reconciler', event: { type: 'task.created' } });
    expect(bg.counters.reconciler).toMatchObject({ unblockedTotal: 1, lastUnblocked: { taskId, from: '' } });
    expect(bg.outbox.stats.enqueued).toBe(1);
    await world.advance(1_000);
    expect(world.conveyor.tasks()).toHaveLength(1);
  });

  it('reads every page of the issue list', async () => {
    for (let i = 0; i < 5; i++) tracker.setIssue({ id: `issue-${i}`, name: `Issue ${i}`, project: PROJECT, state: 'state-in-progress' });
    start();
    await world.advance(1_000);
    expect(world.conveyor.tasks()).toHaveLength(5);
    expect(tracker.requestsTo('GET', '/issues/').filter((r) => r.query.includes('state-in-progress')).length).toBe(3);
  });

  it('replays a lost approval through the same handler as the webhook', async () => {
    const id = await taskAt(world, 'analysis.gating', { trackerIssueId: 'issue-8' });
    tracker.setIssue({ id: 'issue-8', name: 'Fix login', project: PROJECT, state: 'state-approved' });
    const bg = start();
    await world.advance(1_000);
    await world.until('the task reaches development.gating', () => world.conveyor.task(id)?.state === 'development.gating');
    const replay = world.conveyor.history(id).find((e) => e.event.type === 'analysis.approved');
    expect(replay).toMatchObject({ source: 'reconciler', accepted: true, from: 'analysis.gating' });
    expect(bg.counters.reconciler.unblockedTotal).toBe(1);
    const before = world.conveyor.history(id).length;
    await world.advance(1_000);
    expect(world.conveyor.history(id)).toHaveLength(before);
  });

  it('does not replay a rejection the task has already heard', async () => {
    const id = await taskAt(world, 'analysis.gating', { trackerIssueId: 'issue-9' });
    await world.conveyor.send(id, { type: 'analysis.rejected', by: 'tracker' }, { source: 'webhook' });
    const exits = () => world.conveyor.history(id).filter((e) => e.accepted && e.event.type === 'job.exited').length;
    await world.until('analysis re-runs to its gate', () => exits() === 2 && world.conveyor.task(id)?.state === 'analysis.gating');
    const before = world.conveyor.history(id).length;
    tracker.setIssue({ id: 'issue-9', name: 'Fix login', project: PROJECT, state: 'state-rejected' });
    const bg = start();
    await world.advance(1_000);
    await world.advance(1_000);
    expect(world.conveyor.history(id)).toHaveLength(before);
    expect(bg.counters.reconciler.unblockedTotal).toBe(0);
  });

  it('advances a task whose CI status webhook was lost once the forge says the head is green', async () => {
    const id = await taskInDevelopment(world, SHA);
    forge.setStatus(SHA, 'ci/build', 'success');
    forge.setStatus(SHA, 'ci/lint', 'success');
    const bg = start();
    await world.advance(1_000);
    expect(world.conveyor.task(id)?.state).toBe('development.gating');
    await world.advance(5_000);
    await world.until('the task leaves development', () => world.conveyor.task(id)?.stage === 'review');
    expect(world.conveyor.history(id).filter((e) => e.source === 'reconciler' && e.event.type === 'ci.status').length).toBeGreaterThan(0);
    expect(bg.counters.reconciler).toMatchObject({ unblockedTotal: 1, lastUnblocked: { taskId: id, from: 'development.gating' } });
  });

  /** The double serves single pull requests; the list by state is answered here from the same data. */
  const listing: typeof fetch = async (url, init) => {
    const u = new URL(String(url));
    if (!u.pathname.endsWith('/pulls')) return fetch(url, init);
    const open = [...forge.prs.values()].filter((p) => p.state === 'open').map((p) => ({ number: p.number, head: { ref: p.head, sha: p.headSha } }));
    return new Response(JSON.stringify(open), { status: 200, headers: { 'content-type': 'application/json' } });
  };

  /** A task at the development gate that has heard of no pull request, whose branch has one on the forge. */
  async function headlessWithPullRequest(number: number): Promise<string> {
    const id = await taskAt(world, 'analysis.gating');
    await world.conveyor.send(id, { type: 'analysis.approved', by: 'test' }, { source: 'webhook' });
    await world.until('development gating', () => world.conveyor.task(id)?.state === 'development.gating');
    forge.addPullRequest({ head: world.conveyor.task(id)!.branch, headSha: SHA, number });
    return id;
  }

  it('finds the pull request of its branch for a task that never heard of one', async () => {
    const id = await headlessWithPullRequest(12);
    forge.setStatus(SHA, 'ci/build', 'success');
    start({ probe: new ForgeStatusProbe({ forges: { [REPO]: forge.config() }, fetch: listing }) });
    await world.advance(6_000);
    await world.until('the task leaves development', () => world.conveyor.task(id)?.stage === 'review');
    expect(world.conveyor.task(id)?.context.head).toMatchObject({ sha: SHA, pr: 12 });
  });

  it('never takes the sha of a CI status as a head-less task’s head, and asks the forge for it instead', async () => {
    const id = await headlessWithPullRequest(14);
    forge.setStatus(SHA, 'ci/build', 'pending');
    world.conveyor.attachBackground(start({ probe: new ForgeStatusProbe({ forges: { [REPO]: forge.config() }, fetch: listing }) }));
    // A status for a sha no task has, routed here as the single task of the repository in development.
    const stray = 'fe'.repeat(20);
    const outcome = await world.conveyor.send(id, { type: 'ci.status', sha: stray, state: 'success', context: 'ci/build' }, { source: 'webhook' });
    expect(outcome).toMatchObject({ status: 'ignored' });
    await world.until('the forge names the head', () => world.conveyor.task(id)?.context.head !== null);
    expect(world.conveyor.task(id)?.context.head).toMatchObject({ sha: SHA, pr: 14 });
    expect(world.conveyor.task(id)?.state).toBe('development.gating');
  });

  it('stays silent while CI is red or still pending', async () => {
    const red = await taskInDevelopment(world, SHA);
    const other = 'ffeeddccbbaa99887766554433221100ffeeddcc';
    const pending = await taskInDevelopment(world, other);
    forge.setStatus(SHA, 'ci/build', 'failure');
    forge.setStatus(other, 'ci/build', 'success');
    forge.setStatus(other, 'ci/e2e', 'pending');
    const lengths = [world.conveyor.history(red).length, world.conveyor.history(pending).length];
    const bg = start();
    for (let i = 0; i < 20; i++) await world.advance(1_000);
    expect([world.conveyor.history(red).length, world.conveyor.history(pending).length]).toEqual(lengths);
    expect(bg.counters.reconciler.unblockedTotal).toBe(0);
    expect(bg.outbox.stats.enqueued).toBe(0);
  });

  it('produces no sends and no notifications over 100 ticks of a fully synced system', async () => {
    const developing = await taskInDevelopment(world, SHA, { trackerIssueId: 'issue-1' });
    const gated = await taskAt(world, 'analysis.gating', { trackerIssueId: 'issue-2' });
    tracker.setIssue({ id: 'issue-1', name: 'One', project: PROJECT, state: 'state-in-progress' });
    tracker.setIssue({ id: 'issue-2', name: 'Two', project: PROJECT, state: 'state-in-progress' });
    tracker.setIssue({ id: 'issue-3', name: 'Three', project: PROJECT, state: 'state-done' });
    forge.setStatus(SHA, 'ci/build', 'pending');
    const events = { ...world.conveyor.runtime.counters };
    const histories = [world.conveyor.history(developing).length, world.conveyor.history(gated).length];
    const bg = start();
    for (let i = 0; i < 100; i++) await world.advance(1_000);
    expect(bg.counters.reconciler.ticks).toBe(100);
    expect(world.conveyor.runtime.counters).toEqual(events);
    expect([world.conveyor.history(developing).length, world.conveyor.history(gated).length]).toEqual(histories);
    expect(bg.outbox.stats.enqueued).toBe(0);
    expect(bg.counters.reconciler).toMatchObject({ unblockedTotal: 0, errors: 0, lastUnblocked: null });
    expect(world.conveyor.tasks()).toHaveLength(2);
  });

  it('never touches terminal, escalated, on-hold or human-gate tasks', async () => {
    const asked: string[] = [];
    const probe: GateProbe = {
      async probe(task) {
        asked.push(task.taskId);
        return { kind: 'facts', events: [{ type: 'ci.status', sha: SHA, state: 'success', context: 'ci/build' }] };
      },
    };
    const held = await taskInDevelopment(world, SHA);
    await world.conveyor.send(held, { type: 'task.hold', reason: 'legal' }, { source: 'operator' });
    const cancelled = await taskInDevelopment(world, SHA);
    await world.conveyor.send(cancelled, { type: 'task.cancel', reason: 'dropped' }, { source: 'operator' });
    const gated = await taskAt(world, 'analysis.gating');
    const escalated = await escalatedTask(world);
    expect(world.conveyor.task(escalated)?.state).toBe('escalated');
    const states = [held, cancelled, gated, escalated].map((id) => world.conveyor.task(id)?.state);
    start({ probe });
    for (let i = 0; i < 20; i++) await world.advance(1_000);
    expect(asked).toEqual([]);
    expect([held, cancelled, gated, escalated].map((id) => world.conveyor.task(id)?.state)).toEqual(states);
  });

  it('skips a state that means approval when the tracker groups it as completed', async () => {
    const id = await taskAt(world, 'analysis.gating', { trackerIssueId: 'issue-4' });
    tracker.setStates(PROJECT, [...planeStates.filter((s) => s.id !== 'state-approved'), { id: 'state-approved', name: 'Approved', group: 'completed' }]);
    tracker.setIssue({ id: 'issue-4', name: 'Four', project: PROJECT, state: 'state-approved' });
    const before = world.conveyor.history(id).length;
    const bg = start();
    for (let i = 0; i < 5; i++) await world.advance(1_000);
    expect(world.conveyor.task(id)?.state).toBe('analysis.gating');
    expect(world.conveyor.history(id)).toHaveLength(before);
    expect(bg.counters.reconciler.skippedTerminalTotal).toBe(1);
    expect(tracker.requestsTo('GET', '/issues/').some((r) => r.query.includes('state-approved'))).toBe(false);
  });

  it('keeps the last good state list when a refresh fails', async () => {
    const client = new TrackerClient({ apiBase: tracker.apiBase, workspace: tracker.workspace, token: tracker.token, now: () => world.clock.now(), statesTtlMs: 1_000 });
    const first = await client.states(PROJECT);
    tracker.failStates = true;
    world.clock.increment(2_000);
    const second = await client.states(PROJECT);
    expect(first).toMatchObject({ ok: true });
    expect(second).toMatchObject({ ok: true, stale: true, value: first.ok ? first.value : [] });
    expect(tracker.requestsTo('GET', '/states/')).toHaveLength(2);
    const cold = new TrackerClient({ apiBase: tracker.apiBase, workspace: tracker.workspace, token: tracker.token, now: () => world.clock.now(), statesTtlMs: 1_000 });
    expect(await cold.states(PROJECT)).toMatchObject({ ok: false, error: expect.stringContaining('503') });
  });

  it('goes on with the other tasks when one explodes', async () => {
    const ids = [await taskInDevelopment(world, SHA), await taskInDevelopment(world, SHA), await taskInDevelopment(world, SHA)];
    const probe: GateProbe = {
      async probe(task) {
        if (task.taskId === ids[1]) throw new Error('probe blew up');
        return { kind: 'facts', events: [{ type: 'ci.status', sha: SHA, state: 'success', context: 'ci/build' }] };
      },
    };
    const bg = start({ probe });
    await world.advance(6_000);
    await world.until('the others leave development', () => [ids[0], ids[2]].every((id) => world.conveyor.task(id!)?.stage === 'review'));
    expect(world.conveyor.task(ids[1]!)?.state).toBe('development.gating');
    expect(bg.counters.reconciler).toMatchObject({ unblockedTotal: 2, errors: 1 });
    expect(world.logs.some((l) => l.includes(`task ${ids[1]} failed, the sweep goes on: probe blew up`))).toBe(true);
    await world.advance(6_000);
    expect(bg.status().reconciler).toMatchObject({ state: 'idle', ticks: 2 });
  });

  it('works through a backlog larger than one tick may probe, longest unasked first', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push(await taskInDevelopment(world, SHA));
    const asked: string[][] = [];
    const probe: GateProbe = {
      async probe(task) {
        asked.at(-1)!.push(task.taskId);
        return { kind: 'facts', events: [{ type: 'ci.status', sha: SHA, state: 'pending', context: 'ci/build' }] };
      },
    };
    start({ probe, config: { reconciler: { intervalMs: 1_000, graceMs: 5_000, maxProbesPerTick: 2 }, reaper: { enabled: false } } });
    await world.advance(5_000);
    for (let i = 0; i < 3; i++) {
      asked.push([]);
      await world.advance(1_000);
    }
    expect(asked.map((a) => a.length)).toEqual([2, 2, 1]);
    expect(new Set(asked.flat())).toEqual(new Set(ids));
  });

  it('waits out a stage grace override and ignores a bad one with a warning', async () => {
    const id = await taskInDevelopment(world, SHA);
    forge.setStatus(SHA, 'ci/build', 'success');
    start({ config: { reconciler: { intervalMs: 1_000, graceMs: 5_000, stageGraceMs: { development: 20_000, review: -3, nowhere: 10 } }, reaper: { enabled: false } } });
    expect(world.logs).toEqual(expect.arrayContaining([
      expect.stringContaining('ignoring reconciler.stageGraceMs.review: expected a whole number'),
      expect.stringContaining('ignoring reconciler.stageGraceMs.nowhere: not a stage'),
    ]));
    for (let i = 0; i < 15; i++) await world.advance(1_000);
    expect(world.conveyor.task(id)?.state).toBe('development.gating');
    for (let i = 0; i < 6; i++) await world.advance(1_000);
    await world.until('the task leaves development', () => world.conveyor.task(id)?.stage === 'review');
  });
});
