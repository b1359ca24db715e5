import { TASK_MACHINE_ID, TASK_MACHINE_VERSION } from '../machines/index.ts';
import type { TaskRecord } from '../store/index.ts';
import { TaskRestoreError } from './errors.ts';

/** Upgrades a persisted snapshot from the version it names to the next one. */
export type Migrations = Record<number, (snapshot: unknown) => unknown>;

/**
 * The snapshot of a record, migrated to this build's task machine version, or a loud refusal naming
 * the task: a snapshot from another machine, a newer build, or a version with no migration is never
 * guessed at (ARCHITECTURE invariant 5).
 */
export function restorableSnapshot(record: TaskRecord, migrations: Migrations): unknown {
  return migratedSnapshot(record, migrations, TASK_MACHINE_VERSION);
}

/** The snapshot of a record migrated to version `to` (at most this build's), or a loud refusal naming the task. */
export function migratedSnapshot(record: TaskRecord, migrations: Migrations, to: number): unknown {
  if (record.machineId !== TASK_MACHINE_ID) throw new TaskRestoreError(record.id, `persisted by machine "${record.machineId}", not "${TASK_MACHINE_ID}"`);
  const target = to === TASK_MACHINE_VERSION ? `this build's ${to}` : `version ${to}, which its next journaled step was taken under`;
  if (record.version > to) throw new TaskRestoreError(record.id, `persisted by task machine version ${record.version}, newer than ${target}`);
  let snapshot = record.snapshot;
  for (let v = record.version; v < to; v++) {
    const migrate = migrations[v];
    if (!migrate) throw new TaskRestoreError(record.id, `persisted by task machine version ${record.version}; it is needed at ${target} and there is no migration from ${v}`);
    snapshot = migrate(snapshot);
  }
  return snapshot;
}
