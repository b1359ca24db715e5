import { compileTaskMachine, type PipelineDefinition } from '../machines/index.ts';
import { EmbeddedStore, repairStore, verifyStore, type StoreReport } from '../store/index.ts';
import { taskFold } from './task-fold.ts';

export { repairStore, verifyStore };
export type { FileProblem, RepairResult, StoreReport } from '../store/index.ts';

/**
 * Loads a data directory's store and writes one checkpoint of everything, leaving an empty journal. The
 * journal's steps are folded with the task chart of `pipeline` (the configuration's), as a start would.
 */
export async function compactStore(dir: string, pipeline?: PipelineDefinition): Promise<{ before: StoreReport; after: StoreReport }> {
  const before = await verifyStore(dir);
  if (!before.ok) return { before, after: before };
  const store = new EmbeddedStore({ dir, checkpointEvery: Number.MAX_SAFE_INTEGER, checkpointIntervalMs: Number.MAX_SAFE_INTEGER });
  await store.load(taskFold({ current: compileTaskMachine(pipeline) }));
  await store.close();
  return { before, after: await verifyStore(dir) };
}
