import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Conveyor } from '../../actors/index.ts';
import { EmbeddedStore, type TaskRecord } from '../../store/index.ts';

/**
 * A data dir (added to `dirs`, for the caller to remove) holding one task at the analysis gate, its record
 * then rewritten as `change` says: as an older (or foreign) build would have left it.
 */
export async function dirWithTask(dirs: string[], change: (record: TaskRecord) => TaskRecord): Promise<{ dir: string; taskId: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'conveyor-restore-'));
  dirs.push(dir);
  const conveyor = new Conveyor({ store: new EmbeddedStore({ dir }) });
  await conveyor.start();
  const { taskId } = await conveyor.createTask({ repo: 'shop', title: 'old task' }, { source: 'operator' });
  for (let i = 0; i < 100 && conveyor.task(taskId)?.state !== 'analysis.gating'; i++) await new Promise((r) => setTimeout(r, 5));
  await conveyor.stop();
  const store = new EmbeddedStore({ dir });
  await store.load();
  const record = store.getTask(taskId)!;
  const changed = change(structuredClone(record));
  await store.commit([{ kind: 'task', task: { ...changed, rev: record.rev + 1 }, expectedRev: record.rev }]);
  await store.close();
  return { dir, taskId };
}
