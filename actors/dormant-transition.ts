import type { SnapshotFrom } from 'xstate';
import type { TaskEmitted, TaskEvent, TaskMachine } from '../machines/index.ts';
import type { TaskRecord } from '../store/index.ts';
import { TaskRestoreError } from './errors.ts';
import { persistInert, restoreInert, transitionInert } from './inert-chart.ts';
import { restorableSnapshot, type Migrations } from './restorable-snapshot.ts';

type TaskSnapshot = SnapshotFrom<TaskMachine>;

/** A dormant task's committed snapshot, revived without running anything (see restoreInert). */
export function dormantSnapshot(machine: TaskMachine, record: TaskRecord, migrations: Migrations): TaskSnapshot {
  const snapshot = restoreInert(machine, restorableSnapshot(record, migrations));
  if (snapshot === undefined) throw new TaskRestoreError(record.id, 'its persisted snapshot does not fit the task machine');
  return snapshot;
}

/**
 * Takes an event with the chart's pure transition: the next snapshot, its persisted form and what the
 * transition emitted. Nothing it invokes starts; a guard or action that throws throws here.
 */
export function takeDormant(machine: TaskMachine, before: TaskSnapshot, event: TaskEvent): { after: TaskSnapshot; persisted: unknown; emitted: TaskEmitted[] } {
  const [after, actions] = transitionInert(machine, before, event);
  const emitted: TaskEmitted[] = [];
  for (const action of actions) {
    if (action.type === 'xstate.emit') emitted.push((action.params as { event: TaskEmitted }).event);
    // An action of the chart's own that is not an assignment runs as an actor would run it: it has no effect
    // on the snapshot (machines are pure), but a throw in it must be contained the same way.
    else if (!action.type.startsWith('xstate.')) action.exec?.(action.info, action.params);
  }
  return { after, persisted: persistInert(machine, after), emitted };
}

/** Whether a persisted snapshot invokes work (a job, an effect, a timer): only then does its task need an actor. */
export function invokesWork(persisted: unknown): boolean {
  const snap = persisted as { status?: string; children?: Record<string, unknown> };
  return snap.status === 'active' && Object.keys(snap.children ?? {}).length > 0;
}
