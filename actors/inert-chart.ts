import { createActor, type ActorScope, type ActorSystem, type EventObject, type SnapshotFrom } from 'xstate';
import type { TaskEvent, TaskMachine } from '../machines/index.ts';

type TaskSnapshot = SnapshotFrom<TaskMachine>;
type Scope = ActorScope<TaskSnapshot, TaskEvent, ActorSystem<never>, EventObject>;
/** An action the chart's pure transition returned instead of running it. */
export interface ResolvedAction {
  type: string;
  info?: unknown;
  params?: unknown;
  exec?: (info: unknown, params: unknown) => void;
}

const scopes = new WeakMap<TaskMachine, Scope>();
const ignore = () => undefined;

/**
 * One inert actor scope per chart, for its pure restores and transitions. xstate's transition() builds one on
 * every call, and with it an actor that works out the chart's initial state (which, with no input, throws):
 * about a tenth of a webhook's cost. Sharing it keeps nothing between calls: no state of the chart names a
 * systemId, so nothing registers in its system, and its action executor is set for the length of one call.
 */
function scopeOf(chart: TaskMachine): Scope {
  let scope = scopes.get(chart);
  if (scope === undefined) {
    const self = createActor(chart, { input: undefined } as never);
    scope = { self, id: '', sessionId: '', system: self.system, logger: ignore, defer: ignore, stopChild: ignore, emit: ignore, actionExecutor: ignore } as unknown as Scope;
    scopes.set(chart, scope);
  }
  return scope;
}

/** A persisted snapshot revived without running anything (its children are references, none is invoked), or undefined if it does not fit the chart. */
export function restoreInert(chart: TaskMachine, persisted: unknown): TaskSnapshot | undefined {
  try {
    const snapshot = chart.restoreSnapshot(persisted as never, scopeOf(chart) as never) as TaskSnapshot;
    return snapshot.status === 'error' ? undefined : snapshot;
  } catch {
    return undefined;
  }
}

/** The chart's pure transition: the next snapshot and the actions it resolved, none of them run. */
export function transitionInert(chart: TaskMachine, snapshot: TaskSnapshot, event: TaskEvent): [TaskSnapshot, ResolvedAction[]] {
  const scope = scopeOf(chart);
  const actions: ResolvedAction[] = [];
  scope.actionExecutor = (action) => void actions.push(action as ResolvedAction);
  try {
    return [chart.transition(snapshot, event, scope as never), actions];
  } finally {
    scope.actionExecutor = ignore;
  }
}
