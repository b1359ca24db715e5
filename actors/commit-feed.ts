import type { Collection, HistoryEntry, Store, StoreRecord, TaskRecord } from '../store/index.ts';

/** What one durable commit wrote, handed to followers (the live event stream) after it is on disk. */
export type CommitListener = (records: readonly StoreRecord[]) => void;

/**
 * The store as the conveyor uses it, telling followers what each commit wrote once it is durable.
 * Every writer (transitions, decisions, alerts, jobs, effects) commits through it, so a follower sees
 * all of them in commit order without each writer having to remember to announce itself.
 */
export class CommitFeed implements Store {
  readonly #inner: Store;
  readonly #listeners = new Set<CommitListener>();

  constructor(inner: Store) {
    this.#inner = inner;
  }

  /** Follows every commit from now on; returns the function that stops following. */
  follow(listener: CommitListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async commit(records: StoreRecord[]): Promise<number> {
    const seq = await this.#inner.commit(records);
    for (const listener of this.#listeners) {
      try {
        listener(records);
      } catch {
        // A follower's failure must not turn a durable commit into a failed one.
      }
    }
    return seq;
  }

  load(): Promise<void> {
    return this.#inner.load();
  }

  getTask(id: string): TaskRecord | undefined {
    return this.#inner.getTask(id);
  }

  listTasks(): Iterable<TaskRecord> {
    return this.#inner.listTasks();
  }

  taskCount(): number {
    return this.#inner.taskCount();
  }

  getHistory(taskId: string): readonly HistoryEntry[] {
    return this.#inner.getHistory(taskId);
  }

  hasDelivery(key: string): boolean {
    return this.#inner.hasDelivery(key);
  }

  taskForIssue(trackerIssueId: string): string | undefined {
    return this.#inner.taskForIssue(trackerIssueId);
  }

  get<T>(collection: Collection, id: string): T | undefined {
    return this.#inner.get<T>(collection, id);
  }

  list<T>(collection: Collection): T[] {
    return this.#inner.list<T>(collection);
  }

  stats() {
    return this.#inner.stats();
  }

  close(): Promise<void> {
    return this.#inner.close();
  }
}
