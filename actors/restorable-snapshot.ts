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
  if (record.machineId !== TASK_MACHINE_ID) throw new TaskRestoreError(record.id, `persisted by machine "${record.machineId}", not "${TASK_MACHINE_ID}"`);
  if (record.version > TASK_MACHINE_VERSION) {
    throw new TaskRestoreError(record.id, `persisted by task machine version ${record.version}, newer than this build's ${TASK_MACHINE_VERSION}`);
  }
  let snapshot = record.snapshot;
  for (let v = record.version; v < TASK_MACHINE_VERSION; v++) {
    const migrate = migrations[v];
    if (!migrate) throw new TaskRestoreError(record.id, `persisted by task machine version ${record.version}; this build runs version ${TASK_MACHINE_VERSION} and has no migration from ${v}`);
    snapshot = migrate(snapshot);
  }
  return snapshot;
}
