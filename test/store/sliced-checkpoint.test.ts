import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { captureCheckpoint } from '../../store/checkpoint.ts';
import { readCheckpoint } from '../../store/checkpoint-read.ts';
import { applyRecord, emptyDoc, turnTaker, type StoreRecord, type TaskRecord } from '../../store/index.ts';
import { CrashFs } from '../support/crash-fs.ts';
import { tempStores } from '../support/temp-stores.ts';

const TASKS = 1000;
const INTERVAL_MS = 60_000;

function task(id: string, rev: number): TaskRecord {
  const meta = { repo: 'acme/web', title: `Task ${id} at rev ${rev}`, branch: `conveyor/${id}`, createdAt: 1_700_000_000_000 };
  return { id, machineId: 'task', version: 1, rev, meta, snapshot: { value: 'gating', context: { rev, notes: 'x'.repeat(5000) } } };
}

const write = (record: TaskRecord): StoreRecord[] => [
  { kind: 'task', task: record, expectedRev: record.rev === 1 ? null : record.rev - 1 },
  { kind: 'history', taskId: record.id, entry: { at: record.rev, source: 'webhook', event: { type: 'ci.status' }, accepted: true, from: 'gating', to: 'gating' } },
];

interface OnDisk {
  seq: number;
  doc: { tasks: Record<string, TaskRecord> };
}

describe('a checkpoint serialized a slice at a time while commits go on', () => {
  const stores = tempStores('conveyor-sliced-');

  it('holds every task exactly as of its seq, and a restart from it holds every acknowledged write', async () => {
    const clock = { t: 0, now: () => clock.t };
    const store = await stores.open({ checkpointEvery: 1_000_000, checkpointIntervalMs: INTERVAL_MS, clock });
    await Promise.all(Array.from({ length: TASKS }, (_, i) => store.commit(write(task(`t${i}`, 1)))));
    expect(store.stats().checkpoints).toBe(0);

    // The interval passes: the next commit makes a checkpoint due, and it begins before the writes after it.
    clock.t += INTERVAL_MS;
    const acknowledged = new Map<string, number>([['t0', await store.commit(write(task('t0', 2)))]]);
    const checkpointedWhenAcknowledged: number[] = [];
    // In waves, so batches are fsynced and applied between the checkpoint's slices.
    for (let wave = 0; wave < 10; wave++) {
      await Promise.all(
        Array.from({ length: TASKS / 10 }, (_, k) => {
          const id = `t${wave * (TASKS / 10) + k}`;
          if (id === 't0') return undefined;
          return store.commit(write(task(id, 2))).then((seq) => {
            acknowledged.set(id, seq);
            checkpointedWhenAcknowledged.push(store.stats().checkpoints);
          });
        }),
      );
    }
    while (store.stats().checkpoints === 0) await new Promise((resolve) => setTimeout(resolve, 5));

    const onDisk = JSON.parse(await readFile(join(stores.root, 'data', 'checkpoint.json'), 'utf8')) as OnDisk;
    // Writes were acknowledged while the checkpoint was being made, not held behind it.
    expect(checkpointedWhenAcknowledged.filter((n) => n === 0).length).toBeGreaterThan(0);
    let after = 0;
    for (const [id, seq] of acknowledged) {
      const expected = seq <= onDisk.seq ? task(id, 2) : task(id, 1);
      if (seq > onDisk.seq) after++;
      expect(onDisk.doc.tasks[id], id).toEqual(expected);
    }
    // Most writes came after the checkpoint began, and none of them is in it.
    expect(after).toBeGreaterThan(TASKS / 2);

    // A crash now (no closing checkpoint): the journal after the checkpoint's seq brings back every write.
    const reopened = await stores.open({ clock });
    for (let i = 0; i < TASKS; i++) expect(reopened.getTask(`t${i}`)).toEqual(task(`t${i}`, 2));
    for (let i = 0; i < TASKS; i++) expect(reopened.getHistory(`t${i}`).map((e) => e.at)).toEqual([1, 2]);
  });
});

describe('a checkpoint written in pieces', () => {
  it('reads back as the document it captured: tasks, issues, collections, delivery keys and the history index', async () => {
    const doc = emptyDoc();
    for (let i = 0; i < 50; i++) {
      applyRecord(doc, { kind: 'task', task: { ...task(`t${i}`, 1), meta: { ...task(`t${i}`, 1).meta, trackerIssueId: `ISS-${i}` } }, expectedRev: null });
      applyRecord(doc, { kind: 'history', taskId: `t${i}`, entry: { at: i, source: 'webhook', event: { type: 'ci.status', note: 'é' }, accepted: true, from: 'a', to: 'b' } });
    }
    applyRecord(doc, { kind: 'put', collection: 'decisions', id: 'd1', value: { id: 'd1', options: ['yes'] } });
    // More keys than one piece of packed deliveries holds.
    for (let k = 0; k < 5000; k++) applyRecord(doc, { kind: 'delivery', key: `delivery-${k}`, at: k });
    // Many turns: every piece boundary is crossed.
    const turn = turnTaker(64);
    const prepared = await captureCheckpoint(7, doc)((await doc.history.seal(Infinity, turn)).index, turn, null);
    const fs = new CrashFs();
    fs.seed('/data/checkpoint.json', Buffer.concat(prepared.pieces).toString('utf8'));

    const read = await readCheckpoint(fs, '/data');
    if (!read.ok || read.checkpoint === null) throw new Error('the checkpoint does not read back');
    const back = read.checkpoint;
    expect(back.seq).toBe(7);
    expect({ ...back.doc.tasks }).toEqual({ ...doc.tasks });
    expect({ ...back.doc.issues }).toEqual({ ...doc.issues });
    expect(back.doc.collections.decisions).toEqual({ d1: { id: 'd1', options: ['yes'] } });
    expect(back.doc.deliveries.size).toBe(5000);
    for (let k = 0; k < 5000; k += 97) expect(back.doc.deliveries.has(`delivery-${k}`)).toBe(true);
    expect(back.doc.deliveries.has('delivery-5000')).toBe(false);
    expect(back.doc.history.entries).toBe(50);
    expect(back.doc.history.summary('t3')).toEqual(doc.history.summary('t3'));
  });

  it('takes its turns by the weight given, a slice as long as its size says at each call', () => {
    let size = 100;
    const turn = turnTaker(() => size);
    const turns = (weights: number[]) => weights.map((w) => turn(w) !== undefined);
    expect(turns([60, 30, 10, 99, 1])).toEqual([false, false, true, false, true]);
    // A larger slice (a checkpoint falling behind) takes effect at once.
    size = 300;
    expect(turns([150, 100, 49, 1])).toEqual([false, false, false, true]);
  });
});
