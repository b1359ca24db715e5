import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { verifyStore } from '../../store/index.ts';
import { tempStores } from '../support/temp-stores.ts';
import type { EmbeddedStoreOptions, HistoryEntry, StoreRecord } from '../../store/index.ts';

const stores = tempStores('conveyor-history-');
const openStore = (options: Partial<EmbeddedStoreOptions> = {}) => stores.open(options);

/** The n-th entry of a task: each distinct, with text a reader would mangle if it split lines or bytes wrongly. */
function entry(taskId: string, n: number): HistoryEntry {
  return {
    at: 1_700_000_000_000 + n,
    source: 'webhook',
    event: { type: 'ci.status', marker: `${taskId}-entry-${n}`, note: n % 3 === 0 ? 'déjà vu ✓ "quoted"\\n' : 'plain' },
    accepted: n % 4 !== 1,
    from: 'review',
    to: 'review',
  };
}

const history = (taskId: string, n: number): StoreRecord => ({ kind: 'history', taskId, entry: entry(taskId, n) });
const text = (name: string) => readFile(join(stores.root, 'data', name), 'utf8').catch(() => '');

describe('the history file', () => {
  it('holds history outside the checkpoint and reads it back whole, in order, across checkpoints and restarts', async () => {
    const tasks = ['t1', 't2', 't3'];
    const expected = new Map<string, HistoryEntry[]>(tasks.map((id) => [id, []]));
    const store = await openStore({ checkpointEvery: 12 });
    for (let n = 0; n < 40; n++) {
      await store.commit(tasks.map((id) => history(id, n)));
      for (const id of tasks) expected.get(id)!.push(entry(id, n));
      // Read back at every step: part from the file, part from memory.
      if (n % 7 === 0) for (const id of tasks) expect(store.getHistory(id)).toEqual(expected.get(id));
    }
    await vi.waitFor(() => expect(store.stats().checkpoints).toBeGreaterThanOrEqual(3));
    for (const id of tasks) expect(store.getHistory(id)).toEqual(expected.get(id));
    expect(store.historySummary('t2')).toEqual({ entries: 40, lastAt: 1_700_000_000_039, lastAcceptedAt: 1_700_000_000_039 });
    expect(store.historySummary('t2')?.lastAcceptedAt).toBe(entry('t2', 39).at);

    const checkpoint = await text('checkpoint.json');
    expect(checkpoint).not.toContain('t1-entry-0');
    expect(await text('history.jsonl')).toContain('t1-entry-0');

    await store.close();
    const reopened = await openStore();
    for (const id of tasks) expect(reopened.getHistory(id)).toEqual(expected.get(id));
    await reopened.commit([history('t1', 40)]);
    await reopened.close();
    const again = await openStore();
    expect(again.getHistory('t1')).toEqual([...expected.get('t1')!, entry('t1', 40)]);
    expect(again.historySummary('t2')?.entries).toBe(40);
    expect(again.getHistory('nobody')).toEqual([]);
  });

  it('files the entries still in memory when the store closes', async () => {
    const store = await openStore({ checkpointEvery: 1e9 });
    for (let n = 0; n < 5; n++) await store.commit([history('t1', n)]);
    await store.close();
    const reopened = await openStore({ checkpointEvery: 1e9 });
    expect(reopened.getHistory('t1')).toEqual([0, 1, 2, 3, 4].map((n) => entry('t1', n)));
    expect((await text('history.jsonl')).split('\n').filter(Boolean)).toHaveLength(5);
  });

  it('leaves archived tasks behind when it compacts: their entries are gone from the file, the others read the same', async () => {
    const store = await openStore({ checkpointEvery: 10, compactHistoryAfterBytes: 1 });
    const ids = ['keep', 'gone1', 'gone2'];
    // A checkpoint starts with the next commit once due: commits go on until two have landed.
    let n = 0;
    for (; store.stats().checkpoints < 2; n++) {
      expect(n).toBeLessThan(200);
      await store.commit(ids.map((id) => history(id, n)));
    }
    expect(await text('history.jsonl')).toContain('gone1-entry-0');

    await store.commit([{ kind: 'archived', taskIds: ['gone1', 'gone2'] }]);
    expect(store.getHistory('gone1')).toEqual([]);
    expect(store.historySummary('gone1')).toBeUndefined();
    // Enough work for two more checkpoints: the first after the archiving compacts.
    const before = store.stats().checkpoints;
    for (; store.stats().checkpoints < before + 2; n++) {
      expect(n).toBeLessThan(400);
      await store.commit([history('keep', n)]);
    }

    const files = (await text('history.jsonl')) + (await text('history.alt.jsonl'));
    expect(files).not.toContain('gone1-entry');
    expect(files).not.toContain('gone2-entry');
    // Each live entry is on file once.
    expect(files.match(/keep-entry-0"/g)).toHaveLength(1);
    const kept = Array.from({ length: n }, (_, i) => entry('keep', i));
    expect(store.getHistory('keep')).toEqual(kept);
    await store.close();
    const reopened = await openStore();
    expect(reopened.getHistory('keep')).toEqual(kept);
    expect(reopened.getHistory('gone2')).toEqual([]);
  });

  it('keeps a bounded number of segments per task however many checkpoints its entries span', async () => {
    const store = await openStore({ checkpointEvery: 6 });
    const ids = ['t1', 't2', 't3'];
    let n = 0;
    for (; store.stats().checkpoints < 60; n++) {
      expect(n).toBeLessThan(2000);
      await store.commit(ids.map((id) => history(id, n)));
    }
    await store.close();
    const { doc } = JSON.parse(await text('checkpoint.json')) as { doc: { history: { tasks: Record<string, unknown[]> } } };
    const segments = Object.values(doc.history.tasks).reduce((sum, row) => sum + (row.length - 2) / 3, 0);
    // One a checkpoint would be 60 each; a compaction folds them back to one once they pass 8 a task (and 64).
    expect(segments).toBeLessThanOrEqual(8 * ids.length + 64 + ids.length);
    const reopened = await openStore();
    for (const id of ids) expect(reopened.getHistory(id)).toEqual(Array.from({ length: n }, (_, i) => entry(id, i)));
  });

  it('that lost bytes the checkpoint indexes is damage: verify says so and a load refuses it, naming the file', async () => {
    const store = await openStore();
    for (let n = 0; n < 5; n++) await store.commit([history('t1', n)]);
    await store.close();
    const file = join(stores.root, 'data', 'history.jsonl');
    const bytes = await readFile(file);
    expect((await verifyStore(join(stores.root, 'data'))).ok).toBe(true);
    await writeFile(file, bytes.subarray(0, bytes.length - 10));
    const report = await verifyStore(join(stores.root, 'data'));
    expect(report.ok).toBe(false);
    expect(report.history).toEqual({ file, bytes: bytes.length - 10, indexedBytes: bytes.length });
    await expect(openStore()).rejects.toMatchObject({ name: 'StoreCorruptError', file });
  });
});
