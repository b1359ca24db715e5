import type { Collection, HistoryEntry, HistoryRange, HistorySummary, Store, StoreRecord, TaskFold, TaskRecord } from '../store/index.ts';

/**
 * What has been acknowledged: every commit the store resolved, as the simulator saw it. After a crash
 * the restored store must hold all of it, each history entry exactly once, and nothing it never took.
 */
export class Acknowledged {
  readonly revs = new Map<string, number>();
  readonly snapshots = new Map<string, string>();
  /** Snapshots of every rev ever handed to commit, acknowledged or not: what a restore may also show. */
  readonly submitted = new Map<string, string>();
  readonly history = new Map<string, string[]>();
  readonly deliveries = new Set<string>();

  /** Problems of a store just restored from disk against what was acknowledged before the crash. */
  check(store: Store): string[] {
    const problems: string[] = [];
    for (const [id, rev] of this.revs) {
      const task = store.getTask(id);
      if (!task) {
        problems.push(`task ${id}: acknowledged at rev ${rev}, missing after restore`);
        continue;
      }
      if (task.rev < rev) problems.push(`task ${id}: acknowledged at rev ${rev}, restored at rev ${task.rev}`);
      const expected = task.rev === rev ? this.snapshots.get(id) : this.submitted.get(`${id}@${task.rev}`);
      if (expected !== undefined && JSON.stringify(task.snapshot) !== expected) problems.push(`task ${id}: restored snapshot at rev ${task.rev} differs from the one committed`);
      if (expected === undefined && task.rev > rev) problems.push(`task ${id}: restored at rev ${task.rev}, which was never committed`);
    }
    for (const [id, entries] of this.history) {
      const restored = store.getHistory(id);
      if (restored.length < entries.length) problems.push(`task ${id}: ${entries.length} history entries acknowledged, ${restored.length} restored`);
      for (let i = 0; i < Math.min(entries.length, restored.length); i++) {
        if (JSON.stringify(restored[i]) !== entries[i]) {
          problems.push(`task ${id}: history entry ${i} differs after restore`);
          break;
        }
      }
    }
    for (const key of this.deliveries) if (!store.hasDelivery(key)) problems.push(`delivery ${key}: acknowledged, missing after restore`);
    return problems;
  }
}

/** A store that reports each commit it is handed and each one it resolves to the record of acknowledgements. */
export class WatchedStore implements Store {
  constructor(private readonly inner: Store, private readonly acked: Acknowledged) {}

  load(fold?: TaskFold): Promise<void> {
    return this.inner.load(fold);
  }

  async commit(records: StoreRecord[]): Promise<number> {
    for (const r of records) {
      if (r.kind === 'task') this.acked.submitted.set(`${r.task.id}@${r.task.rev}`, JSON.stringify(r.task.snapshot));
      // The journal keeps only the step's event: a restore must fold it back to this very snapshot.
      if (r.kind === 'step') this.acked.submitted.set(`${r.taskId}@${r.rev}`, JSON.stringify(r.snapshot));
    }
    const seq = await this.inner.commit(records);
    const touched = new Set<string>();
    for (const r of records) {
      if (r.kind === 'task') touched.add(r.task.id);
      if (r.kind === 'history' || r.kind === 'step') touched.add(r.taskId);
      if (r.kind === 'delivery') this.acked.deliveries.add(r.key);
    }
    for (const id of touched) {
      const task = this.inner.getTask(id);
      if (task && task.rev >= (this.acked.revs.get(id) ?? 0)) {
        this.acked.revs.set(id, task.rev);
        this.acked.snapshots.set(id, JSON.stringify(task.snapshot));
      }
      const entries = this.acked.history.get(id) ?? [];
      const now = this.inner.getHistory(id);
      for (let i = entries.length; i < now.length; i++) entries.push(JSON.stringify(now[i]));
      this.acked.history.set(id, entries);
    }
    return seq;
  }

  getTask(id: string): TaskRecord | undefined {
    return this.inner.getTask(id);
  }
  listTasks(): Iterable<TaskRecord> {
    return this.inner.listTasks();
  }
  taskCount(): number {
    return this.inner.taskCount();
  }
  getHistory(taskId: string, range?: HistoryRange): readonly HistoryEntry[] {
    return this.inner.getHistory(taskId, range);
  }
  historySummary(taskId: string): HistorySummary | undefined {
    return this.inner.historySummary(taskId);
  }
  hasDelivery(key: string): boolean {
    return this.inner.hasDelivery(key);
  }
  hasDeliveryBefore(at: number): boolean {
    return this.inner.hasDeliveryBefore(at);
  }
  taskForIssue(trackerIssueId: string): string | undefined {
    return this.inner.taskForIssue(trackerIssueId);
  }
  get<T>(collection: Collection, id: string): T | undefined {
    return this.inner.get<T>(collection, id);
  }
  list<T>(collection: Collection): T[] {
    return this.inner.list<T>(collection);
  }
  entries<T>(collection: Collection): [string, T][] {
    return this.inner.entries<T>(collection);
  }
  stats() {
    return this.inner.stats();
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}
