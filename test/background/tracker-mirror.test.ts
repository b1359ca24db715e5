import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TrackerClient, type Background, type MirrorRecord } from '../../actors/index.ts';
import { defaultTrackerRouting } from '../../server/default-tracker.ts';
import { TrackerDouble } from '../support/tracker-double.ts';
import { makeWorld, REPO, taskAt, walkToDone, type World } from './harness.ts';

const PROJECT = 'proj-1';

describe('tracker status mirror', () => {
  let world: World;
  let tracker: TrackerDouble;
  let bg: Background;

  beforeEach(async () => {
    world = await makeWorld();
    tracker = await TrackerDouble.start();
    const client = new TrackerClient({ apiBase: tracker.apiBase, workspace: tracker.workspace, token: tracker.token, now: () => world.clock.now(), statesTtlMs: 60_000 });
    bg = world.background({
      config: { reconciler: { enabled: false, mirrorStates: { development: 'state-dev', review: 'state-review', done: 'state-done' } }, reaper: { enabled: false } },
      tracker: { client, routing: { ...defaultTrackerRouting, projectRepos: { [PROJECT]: REPO } }, projects: [PROJECT] },
    });
    bg.start();
  });

  afterEach(async () => {
    await world.close();
    await tracker.close();
  });

  const mirrorRecords = () => (world.conveyor.runtime.list<MirrorRecord>('effects')).filter((r) => r.effect === 'trackerMirror');

  it('sets the issue to the state configured for the stage the task enters, journaled', async () => {
    tracker.setIssue({ id: 'issue-1', name: 'One', project: PROJECT, state: 'state-approved' });
    const id = await taskAt(world, 'analysis.gating', { trackerIssueId: 'issue-1' });
    await world.conveyor.send(id, { type: 'analysis.approved', by: 'tracker' }, { source: 'webhook' });
    await world.until('the issue shows development', () => tracker.issues.get('issue-1')?.state === 'state-dev');
    await world.until('the journal says completed', () => mirrorRecords().some((r) => r.status === 'completed'));
    expect(mirrorRecords()).toEqual([expect.objectContaining({ taskId: id, stage: 'development', stateId: 'state-dev', issueId: 'issue-1', projectId: PROJECT, status: 'completed' })]);
    expect(tracker.requestsTo('PATCH', '/issues/issue-1/')).toHaveLength(1);
  });

  it('falls back to the nearest configured earlier stage, and only for pipeline stages', () => {
    expect(['analysis', 'development', 'review', 'testing', 'deploy', 'done', 'cancelled', 'onHold'].map((s) => bg.mirror!.stateFor(s))).toEqual([
      null, 'state-dev', 'state-review', 'state-review', 'state-review', 'state-done', null, null,
    ]);
  });

  it('writes a state once while the stages it passes map to that same state, and again only when it changes', async () => {
    await bg.stop();
    const client = new TrackerClient({ apiBase: tracker.apiBase, workspace: tracker.workspace, token: tracker.token, now: () => world.clock.now(), statesTtlMs: 60_000 });
    const progress = 'state-progress';
    bg = world.background({
      config: {
        reconciler: { enabled: false, mirrorStates: { development: progress, review: progress, testing: progress, 'deploy-staging': progress, deploy: progress, done: 'state-done' } },
        reaper: { enabled: false },
      },
      tracker: { client, routing: { ...defaultTrackerRouting, projectRepos: { [PROJECT]: REPO } }, projects: [PROJECT] },
    });
    bg.start();
    tracker.setIssue({ id: 'issue-5', name: 'Five stages', project: PROJECT, state: 'state-approved' });
    const id = await taskAt(world, 'analysis.gating', { trackerIssueId: 'issue-5' });
    await walkToDone(world, id);
    await world.until('the issue shows done', () => tracker.issues.get('issue-5')?.state === 'state-done');
    await bg.stop();
    expect(tracker.requestsTo('PATCH', '/issues/issue-5/').map((r) => (r.body as { state: string }).state)).toEqual([progress, 'state-done']);
  });

  it('does not write again after a restart what it wrote before it', async () => {
    tracker.setIssue({ id: 'issue-6', name: 'Restart', project: PROJECT, state: 'state-approved' });
    const id = await taskAt(world, 'analysis.gating', { trackerIssueId: 'issue-6' });
    await world.conveyor.send(id, { type: 'analysis.approved', by: 'tracker' }, { source: 'webhook' });
    await world.until('the issue shows development', () => tracker.issues.get('issue-6')?.state === 'state-dev');
    await world.until('the write is journaled', () => mirrorRecords().some((r) => r.status === 'completed'));
    await bg.stop();
    const client = new TrackerClient({ apiBase: tracker.apiBase, workspace: tracker.workspace, token: tracker.token, now: () => world.clock.now(), statesTtlMs: 60_000 });
    bg = world.background({
      config: { reconciler: { enabled: false, mirrorStates: { development: 'state-dev', review: 'state-dev' } }, reaper: { enabled: false } },
      tracker: { client, routing: { ...defaultTrackerRouting, projectRepos: { [PROJECT]: REPO } }, projects: [PROJECT] },
    });
    bg.start();
    await world.conveyor.send(id, { type: 'pr.opened', number: 1, sha: 'a'.repeat(40) }, { source: 'webhook' });
    await world.conveyor.send(id, { type: 'ci.status', sha: 'a'.repeat(40), state: 'success', context: 'ci/build' }, { source: 'webhook' });
    await world.until('the task reaches review', () => world.conveyor.task(id)?.state.startsWith('review') === true);
    await bg.stop();
    expect(tracker.requestsTo('PATCH', '/issues/issue-6/')).toHaveLength(1);
  });

  it("writes the stage's state again after a hold, when a human may have set another by hand", async () => {
    tracker.setIssue({ id: 'issue-7', name: 'Held', project: PROJECT, state: 'state-approved' });
    const id = await taskAt(world, 'analysis.gating', { trackerIssueId: 'issue-7' });
    await world.conveyor.send(id, { type: 'analysis.approved', by: 'tracker' }, { source: 'webhook' });
    await world.until('the issue shows development', () => tracker.issues.get('issue-7')?.state === 'state-dev');
    await world.conveyor.send(id, { type: 'task.hold', reason: 'waiting on a human' }, { source: 'operator' });
    tracker.setIssue({ ...tracker.issues.get('issue-7')!, state: 'state-blocked' });
    await world.conveyor.send(id, { type: 'task.resume' }, { source: 'operator' });
    await world.until('the issue shows development again', () => tracker.issues.get('issue-7')?.state === 'state-dev');
    expect(tracker.requestsTo('PATCH', '/issues/issue-7/')).toHaveLength(2);
  });

  it('journals a failed write and never holds the task up', async () => {
    const id = await taskAt(world, 'analysis.gating', { trackerIssueId: 'issue-gone' });
    await world.conveyor.send(id, { type: 'analysis.approved', by: 'tracker' }, { source: 'webhook' });
    await world.until('the task reaches development', () => world.conveyor.task(id)?.state === 'development.gating');
    await world.until('the journal says failed', () => mirrorRecords().some((r) => r.status === 'failed'));
    expect(mirrorRecords()[0]).toMatchObject({ status: 'failed', error: expect.stringContaining('404') });
    expect(bg.status().mirror).toEqual({ mirrored: 0, failed: 1, unchanged: 0 });
  });
});
