import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EmbeddedStore, type TaskFold, type TaskStep } from '../../store/index.ts';

let dir: string;
const opened: EmbeddedStore[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'conveyor-steps-'));
});

afterEach(async () => {
  for (const store of opened.splice(0)) await store.close().catch(() => undefined);
  await rm(dir, { recursive: true, force: true });
});

type Counter = { count: number; last: string };

/** A machine in miniature: a task counts the events it took and remembers the last one. */
const countingFold = (calls: string[] = []): TaskFold => (task, step) => {
  calls.push(`${step.taskId}@${step.rev}`);
  const before = task?.snapshot as Counter | undefined;
  return { snapshot: before ? { count: before.count + 1, last: step.entry.event.type } : { count: 0, last: 'task.created' }, version: step.version };
};

function step(taskId: string, rev: number, type: string, snapshot?: Counter): TaskStep {
  const created = rev === 1 ? { machineId: 'task', meta: { repo: 'acme/web', title: taskId, branch: `b/${taskId}`, createdAt: 1, trackerIssueId: `ISS-${taskId}` } } : {};
  return { kind: 'step', taskId, rev, version: 1, entry: { at: rev, source: 'webhook', event: { type, at: rev }, accepted: true, from: 'a', to: 'b' }, ...created, ...(snapshot ? { snapshot } : {}) };
}

async function open(fold?: TaskFold, checkpointEvery?: number): Promise<EmbeddedStore> {
  const store = new EmbeddedStore({ dir, checkpointEvery });
  opened.push(store);
  await store.load(fold);
  return store;
}

describe('task steps', () => {
  it('journal the event and rev but not the snapshot, which a load after a crash folds back', async () => {
    const live = await open(countingFold());
    await live.commit([step('t1', 1, 'task.created', { count: 0, last: 'task.created' })]);
    await live.commit([step('t1', 2, 'ci.status', { count: 1, last: 'ci.status' })]);
    await live.commit([step('t1', 3, 'review.verdict', { count: 2, last: 'review.verdict' })]);
    const journal = await readFile(join(dir, 'journal.jsonl'), 'utf8');
    expect(journal).not.toContain('"snapshot"');
    expect(journal).toContain('"type":"review.verdict"');

    const calls: string[] = [];
    const restored = await open(countingFold(calls));
    expect(calls).toEqual(['t1@1', 't1@2', 't1@3']);
    expect(restored.getTask('t1')).toMatchObject({ rev: 3, version: 1, machineId: 'task', snapshot: { count: 2, last: 'review.verdict' } });
    expect(restored.getHistory('t1').map((e) => e.event.type)).toEqual(['task.created', 'ci.status', 'review.verdict']);
    expect(restored.taskForIssue('ISS-t1')).toBe('t1');
    expect(restored.taskCount()).toBe(1);
  });

  it('keep the snapshot the caller hands over, uncopied, and read the same one back after a restart', async () => {
    const store = await open(countingFold());
    const snapshot = { count: 0, last: 'task.created' };
    await store.commit([step('t1', 1, 'task.created', snapshot)]);
    expect(store.getTask('t1')?.snapshot).toBe(snapshot);
    await store.close();
    expect((await open(countingFold())).getTask('t1')?.snapshot).toStrictEqual(snapshot);
  });

  it('are folded in commit order when committed without a snapshot', async () => {
    const store = await open(countingFold());
    await Promise.all([store.commit([step('t1', 1, 'task.created')]), store.commit([step('t1', 2, 'ci.status')]), store.commit([step('t1', 3, 'pr.opened')])]);
    expect(store.getTask('t1')?.snapshot).toEqual({ count: 2, last: 'pr.opened' });
  });

  it('are fenced like task writes: a step must follow the stored rev', async () => {
    const store = await open(countingFold());
    await store.commit([step('t1', 1, 'task.created')]);
    await expect(store.commit([step('t1', 3, 'ci.status')])).rejects.toMatchObject({ name: 'StaleWriteError', taskId: 't1' });
    await expect(store.commit([step('t1', 1, 'task.created')])).rejects.toMatchObject({ name: 'StaleWriteError' });
    expect(store.getTask('t1')?.rev).toBe(1);
  });

  it('are refused at load without a fold, naming the task, and at commit without a snapshot or fold', async () => {
    const live = await open(countingFold());
    await live.commit([step('t1', 1, 'task.created')]);
    await expect(open()).rejects.toThrow(/step of task t1; loading it needs the task machine's fold/);
    const bare = new EmbeddedStore({ dir: join(dir, 'other') });
    opened.push(bare);
    await bare.load();
    await expect(bare.commit([step('t2', 1, 'task.created')])).rejects.toThrow(/without a snapshot, and this store has no fold/);
  });

  it('fail the load naming task and rev when the fold cannot replay one', async () => {
    const live = await open(countingFold());
    await live.commit([step('t1', 1, 'task.created')]);
    await live.commit([step('t1', 2, 'ci.status')]);
    const refusing: TaskFold = (task, s) => {
      if (s.rev === 2) throw new Error('no such state');
      return countingFold()(task, s);
    };
    await expect(open(refusing)).rejects.toThrow(/task t1 cannot be replayed to rev 2 \(journal seq 2\): no such state/);
  });

  it('go into a checkpoint folded, so the next load replays nothing', async () => {
    const live = await open(countingFold(), 2);
    await live.commit([step('t1', 1, 'task.created')]);
    await live.commit([step('t1', 2, 'ci.status')]);
    await live.commit([step('t1', 3, 'ci.status')]);
    await live.close();
    const calls: string[] = [];
    const again = await open(countingFold(calls));
    expect(calls).toEqual([]);
    expect(again.getTask('t1')?.snapshot).toEqual({ count: 2, last: 'ci.status' });
  });
});
