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
      const write = written(record);
      if (write === null) continue;
      const { id, rev, expectedRev } = write;
      const wanted = (expectedRev ?? 0) + 1;
      if (rev !== wanted) {
        return {
          ok: false,
          error: new RangeError(`store: task ${id} carries rev ${rev}; with expectedRev ${expectedRev} it must be ${wanted}`),
        };
      }
      const current = local.get(id) ?? this.#current(id);
      if (current !== expectedRev) return { ok: false, error: new StaleWriteError(id, expectedRev, current) };
      local.set(id, rev);
    }
    for (const [id, rev] of local) this.#pending.set(id, rev);
    return { ok: true };
  }

  /** Forgets the reservations of records that are now stored. */
  settle(records: readonly StoreRecord[]): void {
    for (const record of records) {
      const write = written(record);
      // A later queued write to the same task keeps its higher reservation.
      if (write !== null && this.#pending.get(write.id) === write.rev) this.#pending.delete(write.id);
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

/** The task a record writes, its new rev and the rev it expects to find; null for records that write no task. */
function written(record: StoreRecord): { id: string; rev: number; expectedRev: number | null } | null {
  if (record.kind === 'task') return { id: record.task.id, rev: record.task.rev, expectedRev: record.expectedRev };
  // A step names only its new rev: it follows the one before, and rev 1 creates the task.
  if (record.kind === 'step') return { id: record.taskId, rev: record.rev, expectedRev: record.rev === 1 ? null : record.rev - 1 };
  return null;
}
