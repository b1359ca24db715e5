import { toDirectedGraph, type DirectedGraphNode } from '@xstate/graph';
import type { AnyStateNode, StateValue } from 'xstate';

/** The kinds of state node, as xstate types them. */
export type NodeKind = 'atomic' | 'compound' | 'parallel' | 'final' | 'history';

/** One state node of a machine, as the chart draws it. */
export interface ChartNode {
  id: string;
  key: string;
  kind: NodeKind;
  parent: ChartNode | null;
  children: ChartNode[];
  depth: number;
  /** The parent's initial child. */
  initial: boolean;
  /** A region of a parallel state (drawn dashed). */
  region: boolean;
  deepHistory: boolean;
}

/** All transitions from one box to another, their event names joined. */
export interface ChartEdge {
  id: string;
  source: ChartNode;
  target: ChartNode;
  events: string[];
}

/** A machine's states and edges, ready to lay out. */
export interface ChartModel {
  root: ChartNode;
  byId: Map<string, ChartNode>;
  edges: ChartEdge[];
}

/** xstate's internal event names, said the way Stately's visualizer says them. */
function eventLabel(type: string): string {
  const actor = /^xstate\.(done|error)\.actor\.(.+)$/.exec(type);
  if (actor) return `${actor[1]}: ${actor[2]}`;
  const after = /^xstate\.after\.(\d+)\./.exec(type);
  if (after) return `after ${after[1]}ms`;
  const doneState = /^xstate\.done\.state\.(.+)$/.exec(type);
  if (doneState) return `done: ${doneState[1]!.split('.').pop()}`;
  return type;
}

type GuardLike = string | { type: string } | (((...args: never[]) => unknown) & { guards?: GuardLike[] });

function guardText(guard: GuardLike): string {
  if (typeof guard === 'string') return guard;
  if (typeof guard === 'function') {
    const inner = guard.guards;
    if (!inner) return guard.name || 'guard';
    if (guard.name === 'not') return `!${inner.map(guardText).join('')}`;
    return inner.map(guardText).join(guard.name === 'or' ? ' | ' : ' & ');
  }
  return guard.type;
}

function kindOf(type: string): NodeKind {
  return type === 'parallel' || type === 'final' || type === 'history' || type === 'compound' ? type : 'atomic';
}

/** What the chart needs of a machine (any xstate machine has it, whatever its type parameters). */
export interface ChartableMachine {
  root: AnyStateNode;
}

/** The chart of a machine: its state tree from `toDirectedGraph`, and its edges between distinct boxes. */
export function chartModel(machine: ChartableMachine): ChartModel {
  const graph = toDirectedGraph(machine.root);
  const byId = new Map<string, ChartNode>();
  const edges = new Map<string, ChartEdge>();

  const addEdge = (source: ChartNode, targetId: string, label: string) => {
    // Self-loops and targetless transitions change no box; they would only add noise.
    if (targetId === source.id) return;
    const key = `${source.id}->${targetId}`;
    const existing = edges.get(key);
    if (existing) {
      if (!existing.events.includes(label)) existing.events.push(label);
      return;
    }
    edges.set(key, { id: key, source, target: { id: targetId } as ChartNode, events: [label] });
  };

  const visit = (g: DirectedGraphNode, parent: ChartNode | null): ChartNode => {
    const sn = g.stateNode;
    const node: ChartNode = {
      id: g.id,
      key: sn.key,
      kind: kindOf(sn.type),
      parent,
      children: [],
      depth: parent ? parent.depth + 1 : 0,
      initial: parent !== null && sn.parent?.initial?.target.some((t) => t.id === sn.id) === true,
      region: sn.parent?.type === 'parallel',
      deepHistory: sn.type === 'history' && sn.history === 'deep',
    };
    byId.set(node.id, node);
    for (const e of g.edges) {
      if (e.transition.target === undefined) continue;
      addEdge(node, e.target.id, eventLabel(e.label.text));
    }
    // toDirectedGraph leaves out eventless transitions; a gate's way out is one, so add them.
    for (const t of sn.always ?? []) {
      const label = t.guard ? `always [${guardText(t.guard as GuardLike)}]` : 'always';
      for (const target of t.target ?? []) addEdge(node, target.id, label);
    }
    node.children = g.children.map((c) => visit(c, node));
    return node;
  };

  const root = visit(graph, null);
  const resolved: ChartEdge[] = [];
  for (const e of edges.values()) {
    const target = byId.get(e.target.id);
    if (target) resolved.push({ ...e, target });
  }
  return { root, byId, edges: resolved };
}

/**
 * The ids of the states a snapshot value is in: `{ active: { review: 'gating' } }` gives `task.active`,
 * `task.active.review` and `task.active.review.gating` (not the root, which is always active). Keys the
 * machine does not have are skipped.
 */
export function activeStateIds(machine: ChartableMachine | ChartModel, value: StateValue): Set<string> {
  const model = 'byId' in machine ? machine : chartModel(machine);
  const out = new Set<string>();
  const walk = (node: ChartNode, v: StateValue | undefined) => {
    if (v === undefined) return;
    const entries: [string, StateValue | undefined][] = typeof v === 'string' ? [[v, undefined]] : Object.entries(v);
    for (const [key, sub] of entries) {
      const child = node.children.find((c) => c.key === key);
      if (!child) continue;
      out.add(child.id);
      walk(child, sub);
    }
  };
  walk(model.root, value);
  return out;
}
