import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { EmbeddedStore, nodeFileSystem, type FileSystem, type StoreRecord } from '../../store/index.ts';
import { SimDisk } from '../../sim/disk.ts';
import { SimRandom } from '../../sim/random.ts';

const put = (id: string): StoreRecord[] => [{ kind: 'put', collection: 'decisions', id, value: { id } }];

describe('checkpoints beside commits', () => {
  it('acknowledges commits while a checkpoint is being written, and a reload holds them all', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'conveyor-checkpoint-'));
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    // The checkpoint does not take its place until the test says so.
    const fs: FileSystem = { ...nodeFileSystem, rename: async (from, to) => {
      if (to.endsWith('checkpoint.json')) await held;
      return nodeFileSystem.rename(from, to);
    } };
    try {
      const store = new EmbeddedStore({ dir, fs, checkpointEvery: 4 });
      await store.load();
      for (let i = 0; i < 4; i++) await store.commit(put(`before-${i}`));
      // The checkpoint is due and started; these are written and answered while it waits.
      for (let i = 0; i < 10; i++) await store.commit(put(`during-${i}`));
      expect(store.stats().checkpoints).toBe(0);
      release();
      await vi.waitFor(() => expect(store.stats().checkpoints).toBe(1));
      await store.commit(put('after'));
      await store.close();
      const reopened = new EmbeddedStore({ dir });
      await reopened.load();
      expect(reopened.list('decisions')).toHaveLength(15);
      await reopened.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('keeps every acknowledged commit wherever the power is cut around checkpoints', async () => {
    let completed = false;
    let cut = 0;
    while (!completed) {
      cut++;
      expect(cut, 'the run finishes within a bounded number of steps').toBeLessThan(500);
      const disk = new SimDisk(new SimRandom(cut));
      let alive = true;
      let died: () => void = () => undefined;
      const dead = new Promise<'dead'>((resolve) => (died = () => resolve('dead')));
      disk.onCrash = () => {
        alive = false;
        died();
      };
      let ops = 0;
      const step = () => (++ops === cut ? 'crash' as const : null);
      disk.faults = { beforeWrite: step, beforeSync: step };
      const store = new EmbeddedStore({ dir: '/data', fs: disk.view({ alive: () => alive }), checkpointEvery: 3 });
      const acknowledged: string[] = [];
      if ((await Promise.race([store.load(), dead])) !== 'dead') {
        for (let i = 0; i < 12 && alive; i++) {
          const answer = await Promise.race([store.commit(put(`d${i}`)).then(() => 'ok', () => 'refused'), dead]);
          if (answer === 'ok') acknowledged.push(`d${i}`);
        }
        if (alive) await Promise.race([store.close(), dead]);
      }
      completed = alive;
      if (completed) expect(cut, 'the run checkpoints, so the cuts fall around checkpoints too').toBeGreaterThan(40);
      disk.crash();
      const reopened = new EmbeddedStore({ dir: '/data', fs: disk.view({ alive: () => true }) });
      await reopened.load();
      const kept = reopened.list<{ id: string }>('decisions').map((d) => d.id);
      expect(kept, `power cut at disk operation ${cut}`).toEqual(expect.arrayContaining(acknowledged));
    }
  });
});
