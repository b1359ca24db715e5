import { EmbeddedStore } from '../store/index.ts';
import { Conveyor, type ConveyorOptions } from './conveyor.ts';

/** A conveyor on the embedded store in `dataDir`, loaded and restored. */
export async function openConveyor(opts: Omit<ConveyorOptions, 'store'> & { dataDir: string }): Promise<Conveyor> {
  const conveyor = new Conveyor({ ...opts, store: new EmbeddedStore({ dir: opts.dataDir }) });
  await conveyor.start();
  return conveyor;
}
