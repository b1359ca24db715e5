import { getStateNodes } from '@xstate/graph';
import { createActor, type AnyStateMachine, type AnyTransitionDefinition, type StateValue } from 'xstate';
import type { TaskEvent } from '../../machines/index.ts';

/** Every state node of a chart that a task can be in (history pseudo-states excluded), by dotted path. */
export function chartStateNodes(machine: AnyStateMachine): string[] {
  return getStateNodes(machine.root)
    .filter((node) => node.type !== 'history')
    .map((node) => node.path.join('.'));
}

/** The dotted paths of every state node a state value is in: `active`, `active.review`, `active.review.gating`. */
export function nodesOf(value: StateValue, prefix = ''): string[] {
  if (typeof value === 'string') return [`${prefix}${value}`];
  return Object.entries(value).flatMap(([key, child]) => [
    `${prefix}${key}`,
    ...(child === undefined ? [] : nodesOf(child as StateValue, `${prefix}${key}.`)),
  ]);
}

// A transition of the chart: its source node, its event (empty for eventless) and its place among the candidates.
function transitionId(t: AnyTransitionDefinition): string {
  const candidates = t.eventType === '' ? (t.source.always ?? []) : (t.source.transitions.get(t.eventType) ?? []);
  return `${t.source.id} ${t.eventType === '' ? 'always' : `on ${t.eventType}`} #${candidates.indexOf(t)}`;
}

/** Every transition the chart defines, eventless ones included. */
export function chartTransitions(machine: AnyStateMachine): string[] {
  const ids: string[] = [];
  for (const node of [machine.root, ...getStateNodes(machine.root)]) {
    for (const candidates of node.transitions.values()) for (const t of candidates) ids.push(transitionId(t));
    for (const t of node.always ?? []) ids.push(transitionId(t));
  }
  return ids;
}

/** Every event type some transition of the chart handles. */
export function chartEventTypes(machine: AnyStateMachine): string[] {
  const types = new Set<string>();
  for (const node of [machine.root, ...getStateNodes(machine.root)]) for (const type of node.transitions.keys()) types.add(type);
  return [...types].sort();
}

/** The chart transitions the machine takes, across all microsteps, when the event arrives in the snapshot. */
export function transitionsTaken(machine: AnyStateMachine, before: unknown, event: TaskEvent): string[] {
  const taken: string[] = [];
  const actor = createActor(machine, {
    snapshot: machine.getPersistedSnapshot(before as never),
    inspect: (e) => {
      if (e.type === '@xstate.microstep') for (const t of e._transitions) taken.push(transitionId(t));
    },
  });
  actor.start();
  actor.send(event);
  actor.stop();
  return taken;
}
