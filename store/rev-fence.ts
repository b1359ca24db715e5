import { StaleWriteError } from './errors.ts';
import type { StoreRecord } from './types.ts';

/**
 * Knows each task's rev counting writes still waiting for their fsync, so a stale write is refused
 * when it is made instead of after the writes ahead of it land.
 */
export class RevFence {
  readonly #stored: (taskId: string) => number | null;
  /** The rev a task will have once every queued write lands. */
  readonly #pending = new Map<string, number>();

  constructor(stored: (taskId: string) => number | null) {
    this.#stored = stored;
  }

  /** Checks one call's task records in order and reserves their revs only when all of them pass. */
  reserve(records: readonly StoreRecord[]): { ok: true } | { ok: false; error: StaleWriteError | RangeError } {
    // A call may create a task and then update it: later records see the earlier ones.
    const local = new Map<string, number>();
    for (const record of records) {
      if (record.kind !== 'task') continue;
      const { task, expectedRev } = record;
      const wanted = (expectedRev ?? 0) + 1;
      if (task.rev !== wanted) {
        return {
          ok: false,
          error: new RangeError(`store: task ${task.id} carries rev ${task.rev}; with expectedRev ${expectedRev} it must be ${wanted}`),
        };
      }
      const current = local.get(task.id) ?? this.#current(task.id);
      if (current !== expectedRev) return { ok: false, error: new StaleWriteError(task.id, expectedRev, current) };
      local.set(task.id, task.rev);
    }
    for (const [id, rev] of local) this.#pending.set(id, rev);
    return { ok: true };
  }

  /** Forgets the reservations of records that are now stored. */
  settle(records: readonly StoreRecord[]): void {
    for (const record of records) {
      // A later queued write to the same task keeps its higher reservation.
      if (record.kind === 'task' && this.#pending.get(record.task.id) === record.task.rev) this.#pending.delete(record.task.id);
    }
  }

  /** Drops every reservation, after a failed write, so the queued calls can be checked again. */
  clear(): void {
    this.#pending.clear();
  }

  #current(taskId: string): number | null {
    return this.#pending.get(taskId) ?? this.#stored(taskId);
  }
}
