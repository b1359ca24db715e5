import { describe, expect, it } from 'vitest';
import { SimDisk } from '../../sim/disk.ts';
import { SimRandom } from '../../sim/random.ts';

const alive = { alive: () => true };

/** Writes `synced` durably to a fresh file, then `after(handle)` without an fsync, then cuts the power. */
async function crashAfter(seed: number, synced: string[], after: (h: Awaited<ReturnType<ReturnType<SimDisk['view']>['openAppend']>>) => Promise<void>) {
  const disk = new SimDisk(new SimRandom(seed));
  const fs = disk.view(alive);
  await fs.mkdirp('/d');
  const h = await fs.openAppend('/d/f');
  for (const line of synced) await h.append(Buffer.from(line));
  await h.sync();
  await after(h);
  disk.crash();
  return String(await disk.view(alive).readFile('/d/f'));
}

describe('the simulated disk', () => {
  it('keeps what was fsynced when a later unsynced write is lost at a crash', async () => {
    for (let seed = 1; seed <= 40; seed++) {
      const kept = await crashAfter(seed, ['a\n', 'b\n'], (h) => h.append(Buffer.from('c\n')));
      expect(kept.startsWith('a\nb\n'), `seed ${seed}: ${JSON.stringify(kept)}`).toBe(true);
    }
  });

  // A file cut back to its fsynced length and written again, as the journal does after a failed write:
  // the bytes below that length were on the platter before the cut and stay there.
  it('keeps the fsynced bytes below a truncation to their length, whatever happens to what follows', async () => {
    for (let seed = 1; seed <= 40; seed++) {
      const kept = await crashAfter(seed, ['a\n', 'b\n'], async (h) => {
        await h.append(Buffer.from('refused\n'));
        await h.truncate(4);
        await h.append(Buffer.from('c\n'));
      });
      expect(kept.startsWith('a\nb\n'), `seed ${seed}: ${JSON.stringify(kept)}`).toBe(true);
    }
  });

  // After a crash tore the journal's last line, the next process cuts it off and appends; a second crash
  // must still keep every line the first one left whole.
  it('keeps the fsynced bytes through a second crash after a torn write was cut off', async () => {
    for (let seed = 1; seed <= 40; seed++) {
      const disk = new SimDisk(new SimRandom(seed));
      const fs = disk.view(alive);
      await fs.mkdirp('/d');
      const h = await fs.openAppend('/d/f');
      for (const line of ['a\n', 'b\n']) await h.append(Buffer.from(line));
      await h.sync();
      await h.append(Buffer.from('torn\n'));
      disk.crash();
      const again = await disk.view(alive).openAppend('/d/f');
      await again.truncate(4);
      await again.append(Buffer.from('c\n'));
      disk.crash();
      const kept = String(await disk.view(alive).readFile('/d/f'));
      expect(kept.startsWith('a\nb\n'), `seed ${seed}: ${JSON.stringify(kept)}`).toBe(true);
    }
  });

  it('may lose a truncation below the fsynced length at a crash, never keep something else', async () => {
    const seen = new Set<string>();
    for (let seed = 1; seed <= 40; seed++) seen.add(await crashAfter(seed, ['a\n', 'b\n'], (h) => h.truncate(0)));
    expect([...seen].every((s) => s === '' || s === 'a\nb\n'), JSON.stringify([...seen])).toBe(true);
  });
});
