import type { Store, StoreRecord, TaskRecord } from '../../store/index.ts';
import { summarize } from '../views.ts';
import type { TaskArchive } from './task-archive.ts';

/** How long finished tasks stay live and delivery keys are remembered. */
export interface RetentionPolicy {
  /** A done or cancelled task whose last event is older than this moves to the archive; default 30 days. */
  archiveAfterMs: number;
  /** Delivery keys older than this are forgotten; default 7 days, far beyond any sender's retries. */
  deliveryWindowMs: number;
}

export const DEFAULT_RETENTION: RetentionPolicy = { archiveAfterMs: 30 * 24 * 3_600_000, deliveryWindowMs: 7 * 24 * 3_600_000 };

// Bounds one commit, so a first sweep over a long-lived store does not build one giant batch.
const BATCH = 1000;

/**
 * One retention sweep (SPEC R40): finished tasks past their age go to the archive (written and
 * fsynced first, then forgotten by the store in one commit per batch), and delivery keys past the
 * window are pruned. Returns how many tasks it archived.
 */
export async function sweepRetention(o: { store: Store; archive: TaskArchive; now: number; policy: RetentionPolicy; forget?: (record: TaskRecord) => void }): Promise<number> {
  const cutoff = o.now - o.policy.archiveAfterMs;
  const due: string[] = [];
  for (const record of o.store.listTasks()) {
    const stage = summarize(record).stage;
    if (stage !== 'done' && stage !== 'cancelled') continue;
    const last = o.store.getHistory(record.id).at(-1)?.at ?? record.meta.createdAt;
    if (last < cutoff) due.push(record.id);
  }
  for (let i = 0; i < due.length; i += BATCH) {
    const ids = due.slice(i, i + BATCH);
    const tasks = ids.map((id) => ({ task: o.store.getTask(id)!, history: [...o.store.getHistory(id)] }));
    o.archive.append(tasks, o.now);
    await o.store.commit([{ kind: 'archived', taskIds: ids }]);
    for (const { task } of tasks) o.forget?.(task);
  }
  const prune: StoreRecord = { kind: 'pruned', before: o.now - o.policy.deliveryWindowMs };
  await o.store.commit([prune]);
  return due.length;
}
