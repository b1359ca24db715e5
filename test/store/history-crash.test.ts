import { describe, expect, it } from 'vitest';
import { SimDisk } from '../../sim/disk.ts';
import { SimRandom } from '../../sim/random.ts';
import { EmbeddedStore } from '../../store/index.ts';
import type { FileSystem, HistoryEntry, StoreRecord } from '../../store/index.ts';

const DIR = '/data';
const TASKS = ['a', 'b', 'c'];
const STEPS = 60;
/** Archived at step 24: their bytes then outweigh the live task's, so the next checkpoint compacts. */
const GONE = ['b', 'c'];

function entry(taskId: string, n: number): HistoryEntry {
  return { at: n, source: 'webhook', event: { type: 'ci.status', marker: `${taskId}-${n}`, pad: 'x'.repeat(n % 5) }, accepted: true, from: 'review', to: 'review' };
}

/** What a run acknowledged, and everything it handed to commit (acknowledged or not). */
interface Ledger {
  acked: Map<string, HistoryEntry[]>;
  submitted: Map<string, HistoryEntry[]>;
  archived: Set<string>;
  /** The archive was handed to commit: durable or not, unacknowledged. */
  archiving: boolean;
  deliveries: string[];
  crashed: boolean;
}

const open = async (fs: FileSystem) => {
  // Checkpoints every few records, and a compaction as soon as an archived task leaves a byte behind.
  const store = new EmbeddedStore({ dir: DIR, fs, checkpointEvery: 6, compactHistoryAfterBytes: 1 });
  await store.load();
  return store;
};

/**
 * Commits entries for three tasks, archives two midway, until the disk crashes the process at its `cut`-th
 * write or fsync (every step of every checkpoint, history append and compaction is one of them).
 */
async function runUntilCrash(disk: SimDisk, cut: number): Promise<Ledger> {
  const ledger: Ledger = { acked: new Map(TASKS.map((id) => [id, []])), submitted: new Map(TASKS.map((id) => [id, []])), archived: new Set(), archiving: false, deliveries: [], crashed: false };
  let ops = 0;
  let onCrash = () => undefined as void;
  const crashed = new Promise<'crashed'>((resolve) => (onCrash = () => resolve('crashed')));
  const fault = () => (++ops === cut ? ('crash' as const) : null);
  disk.faults = { beforeWrite: fault, beforeSync: fault };
  disk.onCrash = () => {
    ledger.crashed = true;
    onCrash();
  };
  const process = { alive: true };
  const untilCrash = <T>(work: Promise<T>) => Promise.race([work, crashed]);
  const store = await untilCrash(open(disk.view({ alive: () => process.alive })));
  if (store !== 'crashed') {
    for (let n = 0; n < STEPS; n++) {
      const live = TASKS.filter((id) => !ledger.archived.has(id) && !(n === 24 && GONE.includes(id)));
      const records: StoreRecord[] = live.map((id) => ({ kind: 'history', taskId: id, entry: entry(id, n) }));
      records.push({ kind: 'delivery', key: `d-${n}`, at: n });
      if (n === 24) records.push({ kind: 'archived', taskIds: GONE });
      for (const id of live) ledger.submitted.get(id)!.push(entry(id, n));
      if (n === 24) ledger.archiving = true;
      if ((await untilCrash(store.commit(records))) === 'crashed') break;
      for (const id of live) ledger.acked.get(id)!.push(entry(id, n));
      ledger.deliveries.push(`d-${n}`);
      if (n === 24) for (const id of GONE) ledger.archived.add(id);
    }
  }
  process.alive = false;
  return ledger;
}

/** Problems of the store restored after the crash against what the run acknowledged. */
function problems(store: EmbeddedStore, ledger: Ledger): string[] {
  const found: string[] = [];
  for (const id of TASKS) {
    const restored = store.getHistory(id);
    const submitted = ledger.submitted.get(id)!;
    // An archive made durable just before the power went is never acknowledged: its batch (with d-24) is all there, or none of it.
    const archivedUnacknowledged = ledger.archiving && GONE.includes(id) && store.hasDelivery('d-24');
    if (ledger.archived.has(id) || archivedUnacknowledged) {
      if (restored.length > 0) found.push(`${id}: archived, still ${restored.length} entries`);
      continue;
    }
    // Each entry once, in order, none it never committed, and every acknowledged one.
    if (restored.length < ledger.acked.get(id)!.length) found.push(`${id}: ${ledger.acked.get(id)!.length} acknowledged, ${restored.length} restored`);
    if (restored.length > 0 && JSON.stringify(restored) !== JSON.stringify(submitted.slice(0, restored.length))) found.push(`${id}: restored entries are not the committed ones in order`);
  }
  for (const key of ledger.deliveries) if (!store.hasDelivery(key)) found.push(`delivery ${key} acknowledged, forgotten`);
  return found;
}

describe('history across a power cut', () => {
  it('keeps every acknowledged entry exactly once, in order, wherever the power is cut (checkpoint, history append, compaction)', async () => {
    let completed = false;
    for (let cut = 1; !completed; cut++) {
      expect(cut, 'the run finishes within a bounded number of disk operations').toBeLessThan(2000);
      for (const seed of [1, 2]) {
        const disk = new SimDisk(new SimRandom(seed * 1000 + cut));
        const ledger = await runUntilCrash(disk, cut);
        if (!ledger.crashed) {
          completed = true;
          // The run reached a compaction, so the power was cut at each of its steps too.
          expect(await disk.view({ alive: () => true }).exists(`${DIR}/history.alt.jsonl`)).toBe(true);
        }
        // The power goes: unsynced writes are dropped or torn.
        disk.crash();
        disk.faults = { beforeWrite: () => null, beforeSync: () => null };
        const restored = await open(disk.view({ alive: () => true }));
        expect(problems(restored, ledger), `power cut at disk operation ${cut} (seed ${seed})`).toEqual([]);
        // The recovered files take new entries where the old ones end, through another checkpoint and restart.
        const before = restored.getHistory('a');
        await restored.commit([{ kind: 'history', taskId: 'a', entry: entry('a', 1000) }]);
        await restored.close();
        const again = await open(disk.view({ alive: () => true }));
        expect(again.getHistory('a'), `restart after the power cut at ${cut} (seed ${seed})`).toEqual([...before, entry('a', 1000)]);
        await again.close();
      }
    }
  });
});
