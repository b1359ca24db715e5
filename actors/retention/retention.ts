import type { Collection, Store, StoreRecord, TaskRecord } from '../../store/index.ts';
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

/** The collections whose documents belong to one task (they carry its `taskId`) and leave with it. */
export const TASK_COLLECTIONS = ['jobs', 'effects', 'decisions'] as const satisfies readonly Collection[];
export type TaskCollection = (typeof TASK_COLLECTIONS)[number];

/** A task's documents in those collections, by collection, as the archive keeps them. */
export type TaskDocuments = Partial<Record<TaskCollection, { id: string; value: unknown }[]>>;

/** Every document of the given tasks in the per-task collections, grouped by task; one pass per collection. */
function documentsOf(store: Store, ids: ReadonlySet<string>): Map<string, TaskDocuments> {
  const out = new Map<string, TaskDocuments>();
  for (const collection of TASK_COLLECTIONS) {
    for (const [id, value] of store.entries<{ taskId?: unknown }>(collection)) {
      const taskId = value?.taskId;
      if (typeof taskId !== 'string' || !ids.has(taskId)) continue;
      const docs = out.get(taskId) ?? {};
      (docs[collection] ??= []).push({ id, value });
      out.set(taskId, docs);
    }
  }
  return out;
}

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
    const last = o.store.historySummary(record.id)?.lastAt ?? record.meta.createdAt;
    if (last < cutoff) due.push(record.id);
  }
  for (let i = 0; i < due.length; i += BATCH) {
    const ids = due.slice(i, i + BATCH);
    // Its jobs, effects and decisions go with a task, or they would pile up in the live document forever.
    const documents = documentsOf(o.store, new Set(ids));
    const tasks = ids.map((id) => ({ task: o.store.getTask(id)!, history: [...o.store.getHistory(id)], documents: documents.get(id) ?? {} }));
    o.archive.append(tasks, o.now);
    const deletes: StoreRecord[] = tasks.flatMap((t) =>
      TASK_COLLECTIONS.flatMap((collection) => (t.documents[collection] ?? []).map((d) => ({ kind: 'delete' as const, collection, id: d.id }))));
    await o.store.commit([{ kind: 'archived', taskIds: ids }, ...deletes]);
    for (const { task } of tasks) o.forget?.(task);
  }
  const before = o.now - o.policy.deliveryWindowMs;
  // Nothing is written when nothing is due, so a quiet conveyor's journal does not grow by the hour.
  if (o.store.hasDeliveryBefore(before)) await o.store.commit([{ kind: 'pruned', before }]);
  return due.length;
}
