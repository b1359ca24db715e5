import { initialTransition } from 'xstate';
import { TASK_MACHINE_VERSION, type TaskEvent, type TaskLimits, type TaskMachine } from '../machines/index.ts';
import type { TaskFold, TaskMeta, TaskStep } from '../store/index.ts';
import { forcedSnapshot } from './forced-transitions.ts';
import { persistInert, restoreInert, transitionInert } from './inert-chart.ts';
import { migratedSnapshot, type Migrations } from './restorable-snapshot.ts';

/** The charts a journal is replayed with: this build's, and older versions' where they are kept. */
export interface TaskCharts {
  /** This build's chart (TASK_MACHINE_VERSION), pure: no implementations are needed to fold. */
  current: TaskMachine;
  /** Charts of older versions, so a step journaled under one is replayed with it. */
  older?: Record<number, TaskMachine>;
  migrations?: Migrations;
}

/** The creation event's body: what the task's initial state is computed from. */
interface CreatedEvent {
  type: 'task.created';
  limits: TaskLimits;
}

/**
 * The fold a store replays its journal with (ARCHITECTURE, store). A step is replayed with the chart of
 * the version it was journaled under; when that chart is not kept, the snapshot is migrated to this
 * build's version and the step replayed with this build's chart, as a restore would.
 */
export function taskFold(charts: TaskCharts): TaskFold {
  return (task, step) => {
    const kept = step.version === TASK_MACHINE_VERSION ? charts.current : charts.older?.[step.version];
    const version = kept ? step.version : TASK_MACHINE_VERSION;
    const chart = kept ?? charts.current;
    if (task === undefined) return { snapshot: initialSnapshot(chart, step.taskId, step.meta!, step.entry.event as unknown as CreatedEvent), version };
    return { snapshot: nextSnapshot(chart, migratedSnapshot(task, charts.migrations ?? {}, version), step), version };
  };
}

/** A new task's persisted snapshot, from what its creation journaled. */
export function initialSnapshot(chart: TaskMachine, taskId: string, meta: TaskMeta, created: CreatedEvent): unknown {
  const input = { id: taskId, repo: meta.repo, branch: meta.branch, createdAt: meta.createdAt, limits: created.limits };
  const [snapshot] = initialTransition(chart, input);
  return chart.getPersistedSnapshot(snapshot);
}

/** The persisted snapshot after a step, computed with the chart's pure transition (or the forced one it records). */
export function nextSnapshot(chart: TaskMachine, persisted: unknown, step: Pick<TaskStep, 'entry' | 'forced'>): unknown {
  const event = step.entry.event as unknown as TaskEvent;
  if (step.forced) {
    const forced = forcedSnapshot(chart, persisted as Parameters<typeof forcedSnapshot>[1], event);
    if (!forced) throw new Error(`a forced ${event.type} cannot be forced again`);
    return forced;
  }
  const restored = restoreInert(chart, persisted);
  if (restored === undefined) throw new Error('its snapshot does not fit the task machine');
  const [next] = transitionInert(chart, restored, event);
  if (next.status === 'error') throw new Error(`${event.type} puts it in error`);
  return persistInert(chart, next);
}

