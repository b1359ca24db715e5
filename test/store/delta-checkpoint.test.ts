import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SimDisk } from '../../sim/disk.ts';
import { SimRandom } from '../../sim/random.ts';
import { applyRecord, EmbeddedStore, emptyDoc, type FileSystem, type StoreDoc, type StoreRecord, type TaskRecord } from '../../store/index.ts';
import { tempStores } from '../support/temp-stores.ts';

const TASKS = 1000;
const INTERVAL_MS = 60_000;

function task(id: string, rev: number): TaskRecord {
  const meta = { repo: 'acme/web', title: `Task ${id}`, trackerIssueId: `ISS-${id}`, branch: `conveyor/${id}`, createdAt: 1_700_000_000_000 };
  return { id, machineId: 'task', version: 1, rev, meta, snapshot: { value: 'gating', context: { rev, notes: 'x'.repeat(500) } } };
}

const moved = (id: string, rev: number, at: number): StoreRecord[] => [
  { kind: 'task', task: task(id, rev), expectedRev: rev === 1 ? null : rev - 1 },
  { kind: 'history', taskId: id, entry: { at, source: 'webhook', event: { type: 'ci.status' }, accepted: true, from: 'gating', to: 'gating' } },
  { kind: 'delivery', key: `delivery-${id}-${rev}`, at },
];

interface DeltaLine {
  seq: number;
  after: number;
  tasks: Record<string, TaskRecord>;
  collections: Record<string, Record<string, unknown>>;
  gone: { tasks: string[]; collections: Record<string, string[]> };
}

/** Everything a user reads back from a store, in one comparable value. */
function contents(store: EmbeddedStore, ids: string[], deliveries: string[]) {
  return {
    tasks: ids.map((id) => store.getTask(id) ?? null),
    issues: ids.map((id) => store.taskForIssue(`ISS-${id}`) ?? null),
    histories: ids.map((id) => store.getHistory(id).map((e) => e.at)),
    decisions: Object.fromEntries(store.entries('decisions')),
    deliveries: deliveries.filter((key) => store.hasDelivery(key)),
  };
}

describe('checkpoints after a base', () => {
  const stores = tempStores('conveyor-delta-');
  const file = (name: string) => join(stores.root, 'data', name);
  const deltaLines = async () => (await readFile(file('checkpoint.deltas.jsonl'), 'utf8')).split('\n').filter(Boolean).map((l) => JSON.parse(l) as DeltaLine);
  const ids = Array.from({ length: TASKS }, (_, i) => `t${i}`);

  async function checkpointed(store: EmbeddedStore, clock: { t: number }, records: StoreRecord[]): Promise<void> {
    const before = store.stats().checkpoints;
    clock.t += INTERVAL_MS;
    await store.commit(records);
    while (store.stats().checkpoints === before) await new Promise((resolve) => setTimeout(resolve, 2));
  }

  it('write only what changed since the last one, and a crash restart reads the base and the deltas back to every acknowledged write', async () => {
    const clock = { t: 0, now: () => clock.t };
    const store = await stores.open({ checkpointEvery: 1_000_000, checkpointIntervalMs: INTERVAL_MS, clock });
    await Promise.all(ids.map((id) => store.commit([...moved(id, 1, 1), { kind: 'put', collection: 'decisions', id: `d-${id}`, value: { taskId: id } }])));
    await checkpointed(store, clock, moved('t0', 2, 2));
    const base = await stat(file('checkpoint.json'));

    // A few tasks move, one is archived, a decision goes and one changes: the next checkpoint holds just that.
    await store.commit(moved('t5', 2, 3));
    await store.commit([{ kind: 'archived', taskIds: ['t9'] }, { kind: 'delete', collection: 'decisions', id: 'd-t9' }]);
    await store.commit([{ kind: 'put', collection: 'decisions', id: 'd-t7', value: { taskId: 't7', answer: 'yes' } }]);
    await checkpointed(store, clock, moved('t6', 2, 4));

    expect((await stat(file('checkpoint.json'))).mtimeMs, 'the base is not rewritten').toBe(base.mtimeMs);
    const [delta, ...more] = await deltaLines();
    expect(more).toEqual([]);
    expect(Object.keys(delta!.tasks).sort()).toEqual(['t5', 't6']);
    expect(delta!.gone.tasks).toEqual(['t9']);
    expect(Object.keys(delta!.collections.decisions!)).toEqual(['d-t7']);
    expect(delta!.gone.collections.decisions).toEqual(['d-t9']);
    const deltaBytes = (await stat(file('checkpoint.deltas.jsonl'))).size;
    expect(deltaBytes, `a delta of 2 tasks is ${deltaBytes} bytes, the base of ${TASKS} is ${base.size}`).toBeLessThan(base.size / 50);

    // Acknowledged after the delta: only the journal holds these.
    await store.commit(moved('t8', 2, 5));
    const deliveries = ids.flatMap((id) => [`delivery-${id}-1`, `delivery-${id}-2`]);
    const expected = contents(store, ids, deliveries);
    expect(expected.tasks[9]).toBeNull();

    // A crash now: no closing checkpoint, the store reads base, delta and journal.
    const reopened = await stores.open({ clock }, 'data');
    expect(contents(reopened, ids, deliveries)).toEqual(expected);
  });

  it('write a base again once the deltas add up to its size, and a restart at each step holds the same', async () => {
    const clock = { t: 0, now: () => clock.t };
    const store = await stores.open({ checkpointEvery: 1_000_000, checkpointIntervalMs: INTERVAL_MS, clock });
    const small = ids.slice(0, 100);
    await Promise.all(small.map((id) => store.commit(moved(id, 1, 1))));
    await checkpointed(store, clock, moved('t0', 2, 2));
    const kinds: string[] = [];
    const revs = new Map(small.map((id) => [id, id === 't0' ? 2 : 1]));
    for (let round = 0; round < 8; round++) {
      const seqBefore = JSON.parse(await readFile(file('checkpoint.json'), 'utf8')).seq as number;
      // A quarter of the tasks move each round.
      for (const id of small.slice(round % 4 * 25, (round % 4 + 1) * 25)) {
        const rev = revs.get(id)! + 1;
        revs.set(id, rev);
        await store.commit(moved(id, rev, 10 + round));
      }
      await checkpointed(store, clock, [{ kind: 'history', taskId: 't99', entry: { at: 100 + round, source: 'operator', event: { type: 'note' }, accepted: true, from: 'gating', to: 'gating' } }]);
      const seqAfter = JSON.parse(await readFile(file('checkpoint.json'), 'utf8')).seq as number;
      kinds.push(seqAfter === seqBefore ? 'delta' : 'base');
      if (seqAfter !== seqBefore) expect(await deltaLines(), 'a base empties the deltas file').toEqual([]);
      const deliveries = small.flatMap((id) => Array.from({ length: revs.get(id)! }, (_, r) => `delivery-${id}-${r + 1}`));
      const reopened = await stores.open({ clock }, 'data');
      expect(contents(reopened, small, deliveries), `restart after round ${round}`).toEqual(contents(store, small, deliveries));
    }
    // Each delta holds a quarter of the tasks: about three add up to the base.
    expect(kinds).toContain('base');
    expect(kinds.filter((k) => k === 'delta').length).toBeGreaterThanOrEqual(4);
  });
});

describe('delta checkpoints across a power cut', () => {
  const DIR = '/data';
  const open = async (fs: FileSystem) => {
    // A checkpoint every few records: the run writes a base, then deltas, then bases again.
    const store = new EmbeddedStore({ dir: DIR, fs, checkpointEvery: 8 });
    await store.load();
    return store;
  };

  /** Batch n of a run: tasks made, moved and archived, decisions put and deleted, deliveries seen and pruned. */
  function batch(n: number): StoreRecord[] {
    const id = `t${n % 7}`;
    const rev = Math.floor(n / 7) + 1;
    const records: StoreRecord[] = [...moved(id, rev, n), { kind: 'put', collection: 'decisions', id: `d${n % 5}`, value: { n } }];
    if (n % 6 === 5) records.push({ kind: 'delete', collection: 'decisions', id: `d${(n + 1) % 5}` });
    if (n === 30) records.push({ kind: 'pruned', before: 10 });
    return records;
  }
  const BATCHES = 48;

  /** What the store must hold after batches 0..n-1 were made durable. */
  function model(n: number): StoreDoc {
    const doc = emptyDoc();
    for (let i = 0; i < n; i++) for (const record of structuredClone(batch(i))) applyRecord(doc, record);
    return doc;
  }

  const view = (doc: StoreDoc | EmbeddedStore) => {
    const keys = Array.from({ length: BATCHES }, (_, n) => batch(n).flatMap((r) => (r.kind === 'delivery' ? [r.key] : []))).flat();
    const ids = Array.from({ length: 7 }, (_, i) => `t${i}`);
    if (doc instanceof EmbeddedStore) return { tasks: ids.map((id) => doc.getTask(id) ?? null), decisions: Object.fromEntries(doc.entries('decisions')), deliveries: keys.filter((k) => doc.hasDelivery(k)) };
    return { tasks: ids.map((id) => doc.tasks[id] ?? null), decisions: { ...doc.collections.decisions }, deliveries: keys.filter((k) => doc.deliveries.has(k)) };
  };

  const deltasOnDisk = (disk: SimDisk) => disk.view({ alive: () => true }).readFile(`${DIR}/checkpoint.deltas.jsonl`).then((b) => b.length, () => 0);

  it('restores exactly the acknowledged batches, or those and the one in flight, wherever the power is cut', async () => {
    let sawDelta = false;
    // Tasks 0..6 move in turn, so rev n/7+1 follows the one before: the revs fence each batch on the last.
    let completed = false;
    for (let cut = 1; !completed; cut++) {
      expect(cut, 'the run finishes within a bounded number of disk operations').toBeLessThan(3000);
      const disk = new SimDisk(new SimRandom(cut));
      let ops = 0;
      let onCrash = () => undefined as void;
      const crashed = new Promise<'crashed'>((resolve) => (onCrash = () => resolve('crashed')));
      const fault = () => (++ops === cut ? ('crash' as const) : null);
      disk.faults = { beforeWrite: fault, beforeSync: fault };
      disk.onCrash = onCrash;
      const process = { alive: true };
      let acknowledged = 0;
      const store = await Promise.race([open(disk.view({ alive: () => process.alive })), crashed]);
      if (store !== 'crashed') {
        for (; acknowledged < BATCHES; acknowledged++) {
          if ((await Promise.race([store.commit(batch(acknowledged)), crashed])) === 'crashed') break;
          sawDelta ||= (await deltasOnDisk(disk)) > 0;
        }
      }
      process.alive = false;
      if (acknowledged === BATCHES && ops < cut) {
        completed = true;
        expect(sawDelta, 'the run wrote deltas, so the power was cut in each step of one').toBe(true);
      }
      disk.crash();
      disk.faults = { beforeWrite: () => null, beforeSync: () => null };
      const restored = await open(disk.view({ alive: () => true }));
      const held = view(restored);
      const candidates = [acknowledged, Math.min(acknowledged + 1, BATCHES)].map((n) => view(model(n)));
      expect(candidates, `power cut at disk operation ${cut}, ${acknowledged} batches acknowledged`).toContainEqual(held);
      await restored.close();
    }
  });
});
