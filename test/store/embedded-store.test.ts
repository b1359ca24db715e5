import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EmbeddedStore, StaleWriteError, StoreClosedError } from '../../store/index.ts';
import type { EmbeddedStoreOptions, HistoryEntry, StoreRecord, TaskRecord } from '../../store/index.ts';

let dir: string;
const opened: EmbeddedStore[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'conveyor-store-'));
});

afterEach(async () => {
  for (const store of opened.splice(0)) await store.close();
  await rm(dir, { recursive: true, force: true });
});

async function openStore(options: Partial<EmbeddedStoreOptions> = {}): Promise<EmbeddedStore> {
  const store = new EmbeddedStore({ dir: join(dir, 'data'), ...options });
  opened.push(store);
  await store.load();
  return store;
}

function task(id: string, rev: number, snapshot: unknown = { value: 'triage', context: { attempt: rev } }): TaskRecord {
  return {
    id,
    machineId: 'task',
    version: 1,
    rev,
    meta: { repo: 'acme/web', title: `Task ${id}`, branch: `conveyor/${id}`, createdAt: 1_700_000_000_000, trackerIssueId: `ISS-${id}` },
    snapshot,
  };
}

function write(record: TaskRecord): StoreRecord {
  return { kind: 'task', task: record, expectedRev: record.rev === 1 ? null : record.rev - 1 };
}

function entry(type: string, to: string): HistoryEntry {
  return { at: 1_700_000_000_000, source: 'webhook', event: { type }, accepted: true, from: 'triage', to };
}

async function journalLines(): Promise<string[]> {
  const text = await readFile(join(dir, 'data', 'journal.jsonl'), 'utf8');
  return text.split('\n').filter((line) => line !== '');
}

describe('EmbeddedStore', () => {
  it('shows every committed record to a store reopened on the same directory', async () => {
    const first = await openStore();
    await first.commit([write(task('t1', 1)), { kind: 'history', taskId: 't1', entry: entry('task.created', 'triage') }]);
    await first.commit([write(task('t1', 2)), { kind: 'history', taskId: 't1', entry: entry('ci.status', 'review') }]);
    await first.commit([{ kind: 'delivery', key: 'gh-123', at: 5, taskId: 't1' }]);
    await first.commit([{ kind: 'put', collection: 'decisions', id: 'd1', value: { question: 'merge?' } }]);
    await first.commit([{ kind: 'put', collection: 'jobs', id: 'j1', value: { state: 'queued' } }]);
    await first.commit([{ kind: 'delete', collection: 'jobs', id: 'j1' }]);
    await first.close();

    const second = await openStore();
    expect(second.getTask('t1')?.rev).toBe(2);
    expect(second.taskCount()).toBe(1);
    expect(second.getHistory('t1').map((e) => e.to)).toEqual(['triage', 'review']);
    expect(second.hasDelivery('gh-123')).toBe(true);
    expect(second.hasDelivery('gh-124')).toBe(false);
    expect(second.taskForIssue('ISS-t1')).toBe('t1');
    expect(second.get('decisions', 'd1')).toEqual({ question: 'merge?' });
    expect(second.get('jobs', 'j1')).toBeUndefined();
    expect(second.list('jobs')).toEqual([]);
    expect(second.stats().seq).toBe(6);
  });

  it('replays the journal when the last process never closed the store', async () => {
    const first = await openStore();
    await first.commit([write(task('t1', 1))]);
    await first.commit([write(task('t2', 1)), { kind: 'put', collection: 'effects', id: 'e1', value: { done: true } }]);

    // A second store reads the directory as a restarted process would after a crash.
    const second = new EmbeddedStore({ dir: join(dir, 'data') });
    opened.push(second);
    await second.load();
    expect([...second.listTasks()].map((t) => t.id).sort()).toEqual(['t1', 't2']);
    expect(second.get('effects', 'e1')).toEqual({ done: true });
    expect(second.stats()).toMatchObject({ seq: 2, journalRecords: 3 });
  });

  it('puts commits made in the same tick into one batch with one seq and one journal line', async () => {
    const store = await openStore();
    const seqs = await Promise.all([
      store.commit([write(task('a', 1))]),
      store.commit([write(task('b', 1))]),
      store.commit([write(task('c', 1))]),
    ]);
    expect(seqs).toEqual([1, 1, 1]);
    const lines = await journalLines();
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0] as string)).toMatchObject({ seq: 1, records: [{ task: { id: 'a' } }, { task: { id: 'b' } }, { task: { id: 'c' } }] });
  });

  it('groups the commits made while a write is in flight into the next write', async () => {
    const store = await openStore();
    const first = store.commit([write(task('a', 1))]);
    await new Promise((resolve) => setImmediate(resolve));
    const later = [store.commit([write(task('b', 1))]), store.commit([write(task('c', 1))]), store.commit([write(task('a', 2))])];
    expect(await first).toBe(1);
    expect(await Promise.all(later)).toEqual([2, 2, 2]);
    expect(await journalLines()).toHaveLength(2);
    expect(store.getTask('a')?.rev).toBe(2);
  });

  it('changes the in-memory view only once the batch is on disk', async () => {
    const store = await openStore();
    const pending = store.commit([write(task('a', 1))]);
    expect(store.getTask('a')).toBeUndefined();
    await pending;
    expect(store.getTask('a')?.rev).toBe(1);
  });

  it('refuses a stale expectedRev and applies nothing of that call', async () => {
    const store = await openStore();
    await store.commit([write(task('t1', 1))]);
    await store.commit([write(task('t1', 2))]);
    const stale = store.commit([
      { kind: 'history', taskId: 't1', entry: entry('review.verdict', 'done') },
      { kind: 'put', collection: 'decisions', id: 'd1', value: 'yes' },
      write(task('t1', 2)),
    ]);
    await expect(stale).rejects.toBeInstanceOf(StaleWriteError);
    await expect(stale).rejects.toMatchObject({ taskId: 't1', expectedRev: 1, actualRev: 2 });
    expect(store.getHistory('t1')).toEqual([]);
    expect(store.get('decisions', 'd1')).toBeUndefined();
    await store.close();

    const reopened = await openStore();
    expect(reopened.getTask('t1')?.rev).toBe(2);
    expect(reopened.getHistory('t1')).toEqual([]);
    expect(reopened.get('decisions', 'd1')).toBeUndefined();
  });

  it('checks a write against the revs of writes still queued ahead of it', async () => {
    const store = await openStore();
    await store.commit([write(task('t1', 1))]);
    const winner = store.commit([write(task('t1', 2))]);
    const loser = store.commit([write(task('t1', 2, { value: 'other' }))]);
    const follower = store.commit([write(task('t1', 3))]);
    await expect(loser).rejects.toBeInstanceOf(StaleWriteError);
    expect(await winner).toBe(2);
    expect(await follower).toBe(2);
    expect(store.getTask('t1')?.rev).toBe(3);
    expect(store.getTask('t1')?.snapshot).toEqual({ value: 'triage', context: { attempt: 3 } });
  });

  it('refuses to create a task that exists', async () => {
    const store = await openStore();
    await store.commit([write(task('t1', 1, 'original'))]);
    await expect(store.commit([write(task('t1', 1, 'duplicate'))])).rejects.toMatchObject({
      name: 'StaleWriteError',
      expectedRev: null,
      actualRev: 1,
    });
    expect(store.getTask('t1')?.snapshot).toBe('original');
    expect(store.taskCount()).toBe(1);
  });

  it('creates and updates a task within one call', async () => {
    const store = await openStore();
    await store.commit([write(task('t1', 1)), write(task('t1', 2))]);
    expect(store.getTask('t1')?.rev).toBe(2);
    expect(store.taskCount()).toBe(1);
  });

  it('refuses a task record whose rev does not follow its expectedRev', async () => {
    const store = await openStore();
    await expect(store.commit([{ kind: 'task', task: task('t1', 0), expectedRev: null }])).rejects.toBeInstanceOf(RangeError);
    expect(store.getTask('t1')).toBeUndefined();
  });

  it('round-trips a task snapshot with its machineId and version untouched', async () => {
    const snapshot = { status: 'active', value: { build: { working: 'agent' } }, context: { attempts: [1, 2], note: 'naïve ✓' }, children: {} };
    const record: TaskRecord = { ...task('t1', 1, snapshot), machineId: 'task:acme/web', version: 7 };
    const store = await openStore();
    await store.commit([write(record)]);
    expect(store.getTask('t1')).toEqual(record);
    await store.close();

    const reopened = await openStore();
    expect(reopened.getTask('t1')).toEqual(record);
    expect(reopened.getTask('t1')?.machineId).toBe('task:acme/web');
    expect(reopened.getTask('t1')?.version).toBe(7);
  });

  it('keeps its own copy of committed records', async () => {
    const store = await openStore();
    const record = task('t1', 1, { value: 'triage' });
    await store.commit([write(record)]);
    (record.snapshot as { value: string }).value = 'mutated';
    expect(store.getTask('t1')?.snapshot).toEqual({ value: 'triage' });
  });

  it('keeps the first sighting of a delivery key', async () => {
    const store = await openStore();
    await store.commit([{ kind: 'delivery', key: 'gh-1', at: 10, taskId: 't1' }]);
    await store.commit([{ kind: 'delivery', key: 'gh-1', at: 20, taskId: 't2' }]);
    await store.commit([{ kind: 'delivery', key: '__proto__', at: 30 }]);
    expect(store.hasDelivery('gh-1')).toBe(true);
    expect(store.hasDelivery('__proto__')).toBe(true);
    expect(store.hasDelivery('constructor')).toBe(false);
    await store.close();
    const reopened = await openStore();
    expect(reopened.hasDelivery('__proto__')).toBe(true);
    expect(reopened.hasDelivery('toString')).toBe(false);
  });

  it('refuses commits before load and after close, and closes more than once', async () => {
    const unloaded = new EmbeddedStore({ dir: join(dir, 'data') });
    await expect(unloaded.commit([write(task('t1', 1))])).rejects.toBeInstanceOf(StoreClosedError);
    const store = await openStore();
    const pending = store.commit([write(task('t1', 1))]);
    await Promise.all([store.close(), store.close()]);
    expect(await pending).toBe(1);
    await expect(store.commit([write(task('t2', 1))])).rejects.toMatchObject({ name: 'StoreClosedError', state: 'closed' });
    const reopened = await openStore();
    expect(reopened.getTask('t1')?.rev).toBe(1);
  });
});
