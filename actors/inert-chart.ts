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

/**
 * Per chart, the snapshot each persisted form it made (persistInert) came from. Reviving a snapshot costs more than
 * the transition that follows (restoring, then transitioning, a webhook's event: about 17 and 10 us); a task's next
 * event, live or replayed, mostly starts from the persisted form its last transition made. Keyed by that object:
 * persisted snapshots are never changed in place (Store.commit), and one replaced is dropped with it.
 */
const made = new WeakMap<TaskMachine, WeakMap<object, TaskSnapshot>>();

function madeBy(chart: TaskMachine): WeakMap<object, TaskSnapshot> {
  let known = made.get(chart);
  if (known === undefined) made.set(chart, (known = new WeakMap()));
  return known;
}

/** A snapshot's persisted form, which restoreInert turns back into this very snapshot instead of reviving it. */
export function persistInert(chart: TaskMachine, snapshot: TaskSnapshot): unknown {
  const persisted = chart.getPersistedSnapshot(snapshot);
  madeBy(chart).set(persisted as object, snapshot);
  return persisted;
}

/** A persisted snapshot revived without running anything (its children are references, none is invoked), or undefined if it does not fit the chart. */
export function restoreInert(chart: TaskMachine, persisted: unknown): TaskSnapshot | undefined {
  const known = typeof persisted === 'object' && persisted !== null ? made.get(chart)?.get(persisted) : undefined;
  if (known !== undefined) return known;
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
