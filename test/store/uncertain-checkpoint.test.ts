import { describe, expect, it } from 'vitest';
import { SimDisk } from '../../sim/disk.ts';
import { SimRandom } from '../../sim/random.ts';
import { EmbeddedStore, type FileSystem, type HistoryEntry } from '../../store/index.ts';

const DIR = '/data';

function entry(n: number): HistoryEntry {
  return { at: n, source: 'webhook', event: { type: 'ci.status', n }, accepted: true, from: 'review', to: 'review' };
}

const open = async (fs: FileSystem) => {
  const store = new EmbeddedStore({ dir: DIR, fs, checkpointEvery: 4 });
  await store.load();
  return store;
};

describe('a checkpoint whose write failed after its rename', () => {
  it('may be the one a restart finds, so the history it indexes is kept', async () => {
    for (let seed = 1; seed <= 12; seed++) {
      const disk = new SimDisk(new SimRandom(seed));
      let renamed = false;
      let failedOnce = false;
      let crashAtHistory = false;
      // The directory's fsync after the checkpoint's rename fails once; later, the power goes at the next history write.
      disk.faults = {
        beforeWrite: (op, path) => {
          if (op === 'rename' && path.endsWith('checkpoint.json.tmp')) renamed = true;
          if (crashAtHistory && op === 'append' && path.endsWith('history.jsonl')) return 'crash';
          return null;
        },
        beforeSync: (path) => {
          if (renamed && path === DIR && !failedOnce && disk.stats.syncs > 0) {
            renamed = false;
            // The first base has nothing to lose; the second one's failure is the case.
            if (checkpointsWritten++ === 0) return null;
            failedOnce = true;
            return 'EIO';
          }
          renamed = false;
          return null;
        },
      };
      let checkpointsWritten = 0;
      let dead = false;
      let died: () => void = () => undefined;
      const crashed = new Promise<'crashed'>((resolve) => (died = () => resolve('crashed')));
      disk.onCrash = () => {
        dead = true;
        died();
      };
      const store = await open(disk.view({ alive: () => !dead }));
      const acknowledged: number[] = [];
      for (let n = 0; n < 40 && !dead; n++) {
        if (failedOnce) crashAtHistory = true;
        const answer = await Promise.race([store.commit([{ kind: 'history', taskId: 't', entry: entry(n) }]).then(() => 'ok', () => 'refused'), crashed]);
        if (answer === 'ok') acknowledged.push(n);
      }
      expect(failedOnce, `seed ${seed}: a checkpoint's directory fsync failed after its rename`).toBe(true);
      expect(dead, `seed ${seed}: the power went at a later history write`).toBe(true);
      disk.crash();
      disk.faults = { beforeWrite: () => null, beforeSync: () => null };
      const restored = await open(disk.view({ alive: () => true }));
      const held = restored.getHistory('t').map((e) => e.at);
      expect(held.slice(0, acknowledged.length), `seed ${seed}`).toEqual(acknowledged);
      await restored.close();
    }
  });
});
