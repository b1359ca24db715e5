import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ActivityFeed, ForgeClient, PROGRESS_MARKER, TrackerClient, type Background } from '../../actors/index.ts';
import { defaultTrackerRouting } from '../../server/default-tracker.ts';
import { ForgeDouble } from '../support/forge-double.ts';
import { TrackerDouble } from '../support/tracker-double.ts';
import { makeWorld, REPO, taskAt, type World } from './harness.ts';

const PROJECT = 'proj-1';
const SHA = 'b'.repeat(40);

describe('progress comments', () => {
  let world: World;
  let tracker: TrackerDouble;
  let forge: ForgeDouble;
  let bg: Background;
  let activity: ActivityFeed;

  const start = (minIntervalMs: number) => {
    const client = new TrackerClient({ apiBase: tracker.apiBase, workspace: tracker.workspace, token: tracker.token, now: () => world.clock.now(), statesTtlMs: 60_000 });
    bg = world.background({
      config: { reconciler: { enabled: false }, reaper: { enabled: false } },
      tracker: { client, routing: { ...defaultTrackerRouting, projectRepos: { [PROJECT]: REPO } }, projects: [PROJECT] },
      forge: new ForgeClient({ repos: { [REPO]: forge.config() } }),
      progress: { enabled: true, minIntervalMs },
      activity,
    });
    bg.start();
  };

  beforeEach(async () => {
    world = await makeWorld();
    activity = new ActivityFeed();
    tracker = await TrackerDouble.start();
    forge = await ForgeDouble.start();
    tracker.setIssue({ id: 'issue-1', name: 'One', project: PROJECT, state: 'state-todo' });
    forge.addPullRequest({ head: 'feature', headSha: SHA, number: 7 });
  });

  afterEach(async () => {
    await world.close();
    await tracker.close();
    await forge.close();
  });

  const html = (i: number) => tracker.comments.get('issue-1')?.[i]?.comment_html ?? '';

  it('keeps one comment per stage on the issue, edited in place, and one on the pull request', async () => {
    start(0);
    const id = await taskAt(world, 'analysis.gating', { trackerIssueId: 'issue-1' });
    await world.until('the analysis comment says gating', () => html(0).includes('analysis.gating'));
    await world.conveyor.send(id, { type: 'analysis.approved', by: 'tracker' }, { source: 'webhook' });
    await world.until('a development comment', () => html(1).includes('development.gating'));
    await world.conveyor.send(id, { type: 'pr.opened', number: 7, sha: SHA }, { source: 'webhook' });
    await world.conveyor.send(id, { type: 'ci.status', sha: SHA, state: 'pending', context: 'ci/build' }, { source: 'webhook' });
    await world.until('the pull request has its comment', () => (forge.comments.get(7)?.[0]?.body ?? '').includes('ci.status'));
    await bg.stop();

    const comments = tracker.comments.get('issue-1') ?? [];
    expect(comments).toHaveLength(2);
    expect(comments[0]!.comment_html).toContain('stage analysis');
    expect(comments[1]!.comment_html).toContain('stage development');
    expect(comments[1]!.edits).toBeGreaterThan(0);
    expect(comments.every((c) => c.comment_html.startsWith(PROGRESS_MARKER))).toBe(true);
    const prComments = forge.comments.get(7) ?? [];
    expect(prComments).toHaveLength(1);
    expect(prComments[0]!.body).toMatch(/^<!-- conveyor:progress -->\n\*\*conveyor · stage development\*\*/);
  });

  it("shows the running job's latest activity", async () => {
    start(0);
    const id = await taskAt(world, 'analysis.gating', { trackerIssueId: 'issue-1' });
    await world.until('the first comment', () => html(0) !== '');
    const at = world.clock.now();
    activity.publish({
      jobId: 'job-1', taskId: id, stage: 'analysis',
      records: [
        { seq: 1, at, offset: 10, kind: 'text', text: 'Reading the code <first>' },
        { seq: 2, at, offset: 20, kind: 'tool', tool: 'Edit', target: 'src/app.ts' },
        { seq: 3, at, offset: 30, kind: 'usage' },
      ],
    });
    await world.until('the comment shows the tool', () => html(0).includes('used Edit on src/app.ts'));
    expect(tracker.comments.get('issue-1')).toHaveLength(1);
  });

  it('writes a comment at most once per interval, folding the changes meanwhile into the next write', async () => {
    start(60_000);
    const id = await taskAt(world, 'analysis.gating', { trackerIssueId: 'issue-1' });
    await world.until('the first comment', () => html(0) !== '');
    await world.conveyor.send(id, { type: 'task.hold', reason: 'a' }, { source: 'operator' });
    await world.conveyor.send(id, { type: 'task.resume' }, { source: 'operator' });
    await world.conveyor.send(id, { type: 'task.hold', reason: 'b' }, { source: 'operator' });
    await new Promise((resolve) => setTimeout(resolve, 100));
    const writes = () => tracker.requests.filter((r) => r.path.includes('/comments/')).length;
    expect(writes()).toBe(1);
    await world.advance(60_000);
    await world.until('the folded edit', () => html(0).includes('onHold'));
    expect(writes()).toBe(2);
    expect(tracker.comments.get('issue-1')?.[0]?.edits).toBe(1);
  });

  it('edits the same comment after a restart instead of adding one', async () => {
    start(0);
    const id = await taskAt(world, 'analysis.gating', { trackerIssueId: 'issue-1' });
    await world.until('the first comment', () => html(0) !== '');
    await world.until('its id is kept', () => bg.progress!.ownCommentIds().size === 1);
    await bg.stop();
    start(0);
    await world.conveyor.send(id, { type: 'task.hold', reason: 'after restart' }, { source: 'operator' });
    await world.until('the comment says onHold', () => html(0).includes('onHold'));
    expect(tracker.comments.get('issue-1')).toHaveLength(1);
  });

  it('never holds the task up when the tracker fails', async () => {
    start(0);
    const id = await taskAt(world, 'analysis.gating', { trackerIssueId: 'issue-gone' });
    await world.conveyor.send(id, { type: 'analysis.approved', by: 'tracker' }, { source: 'webhook' });
    await world.until('the task reaches development', () => world.conveyor.task(id)?.state === 'development.gating');
    await world.until('the failure is counted', () => (bg.status().progressComments?.failed ?? 0) > 0);
  });
});
