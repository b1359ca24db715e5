import { EmbeddedStore } from '../store/index.ts';
import { Conveyor, type ConveyorOptions } from './conveyor.ts';
import { TaskArchive } from './retention/index.ts';
import type { World } from './world.ts';

/** A conveyor on the embedded store in `dataDir`, loaded and restored; the world's clock, randomness and files are real unless given. */
export async function openConveyor(opts: Omit<ConveyorOptions, 'store'> & { dataDir: string; world?: Partial<Pick<World, 'clock' | 'randomBytes' | 'fs'>> }): Promise<Conveyor> {
  const { world = {}, ...rest } = opts;
  const store = new EmbeddedStore({ dir: opts.dataDir, fs: world.fs, clock: world.clock });
  const conveyor = new Conveyor({ ...rest, clock: rest.clock ?? world.clock, randomBytes: rest.randomBytes ?? world.randomBytes, store, archive: rest.archive ?? new TaskArchive(opts.dataDir) });
  await conveyor.start();
  return conveyor;
}
