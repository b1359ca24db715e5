import type { TaskMachine } from '../machines/index.ts';
import type { HistoryEntry, TaskRecord } from '../store/index.ts';
import { initialSnapshot, nextSnapshot, type TaskCharts } from './task-fold.ts';

/** A guard the chart evaluated while taking an event, with its parameters and its answer. */
export interface GuardCheck {
  guard: string;
  params?: unknown;
  passed: boolean;
}

/** The task as it stood after one entry of its history. */
export interface ReplayedEntry {
  /** The entry's position in the history, from 1 (the creation). */
  n: number;
  entry: HistoryEntry;
  /** Whether the entry moved the task (a transition it took); a refused event or a note did not. */
  step: boolean;
  /** The persisted snapshot after the entry, folded from the history with the chart's pure transition. */
  snapshot: unknown;
  /** The guards that decided the transition, in the order the chart evaluated them. */
  guards: GuardCheck[];
}

/**
 * Folds a task's history from its creation with this build's chart and its pure transition (time travel):
 * the task as it stood after each of the first `to` entries. Entries a step wrote carry its rev; a history
 * written before steps were journaled folds its accepted entries (a note's event is one no chart handles).
 */
export function replayHistory(charts: TaskCharts, record: TaskRecord, history: readonly HistoryEntry[], to = history.length): ReplayedEntry[] {
  const stepsMarked = history.some((e) => e.rev !== undefined);
  const out: ReplayedEntry[] = [];
  let snapshot: unknown;
  for (const [i, entry] of history.slice(0, to).entries()) {
    let guards: GuardCheck[] = [];
    const step = i === 0 || (stepsMarked ? entry.rev !== undefined : entry.accepted);
    if (i === 0) {
      // Tasks created before the creation journaled its limits start with the limits they still have.
      const limits = (entry.event.limits ?? (record.snapshot as { context?: { limits?: unknown } }).context?.limits) as never;
      snapshot = initialSnapshot(charts.current, record.id, record.meta, { type: 'task.created', limits });
    } else if (step) {
      const recorder = recording(charts.current);
      const forced = entry.forced ?? (entry.reason?.startsWith('forced:') ? true : undefined);
      snapshot = nextSnapshot(recorder.chart, snapshot, { entry, ...(forced ? { forced } : {}) });
      guards = recorder.checks;
    }
    out.push({ n: i + 1, entry, step, snapshot, guards });
  }
  return out;
}

/** The chart with every named guard wrapped to record its answer, so a replay can say what decided. */
function recording(chart: TaskMachine): { chart: TaskMachine; checks: GuardCheck[] } {
  const checks: GuardCheck[] = [];
  const guards: Record<string, (args: unknown, params: unknown) => boolean> = {};
  for (const [name, guard] of Object.entries(chart.implementations.guards as Record<string, unknown>)) {
    if (typeof guard !== 'function') continue;
    guards[name] = (args, params) => {
      const passed = Boolean((guard as (a: unknown, p: unknown) => unknown)(args, params));
      checks.push(params === undefined ? { guard: name, passed } : { guard: name, params, passed });
      return passed;
    };
  }
  return { chart: chart.provide({ guards: guards as never }), checks };
}
