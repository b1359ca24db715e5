import type { AdjacencyMap } from '@xstate/graph';
import { describeState, type TaskEvent } from '../../machines/index.ts';
import { coverPaths, shortestPaths, type Edge } from './path-cover.ts';
import { serializeTaskState, type SnapshotLike } from './task-model-state.ts';
import { accepts, createTaskModel, SHA_STALE, STALE_DEADLINE, STALE_DECISION, STALE_JOB, type TaskSnapshot } from './task-model.ts';

/** One edge of the model: a sample event taken (or refused) in a model state. */
export interface ModelEdge extends Edge {
  event: TaskEvent;
  before: TaskSnapshot;
  after: TaskSnapshot;
}

export interface ModelPath {
  name: string;
  edges: ModelEdge[];
}

/** The task model's graph, the paths that cover it, and the events it refuses. */
export interface TaskModelGraph {
  initial: string;
  states: ReadonlyMap<string, TaskSnapshot>;
  /** Edges the machine takes (the runtime accepts them), by source state. */
  out: ReadonlyMap<string, readonly ModelEdge[]>;
  refused: readonly ModelEdge[];
  paths: readonly ModelPath[];
  /** The shortest accepted path to every state. */
  prefixes: ReadonlyMap<string, ModelEdge[]>;
}

const key = (snapshot: TaskSnapshot) => serializeTaskState(snapshot as unknown as SnapshotLike);

/** A short label for an event: its type and the payload that decides guards, relative to the state it is sent in. */
export function eventLabel(event: TaskEvent): string {
  switch (event.type) {
    case 'ci.status':
      return `ci.status(${event.sha === SHA_STALE ? 'stale ' : ''}${event.state})`;
    case 'review.verdict':
      return `review.verdict(${event.sha === SHA_STALE ? 'stale ' : ''}${event.verdict})`;
    case 'test.result':
      return `test.result(${event.sha === SHA_STALE ? 'stale ' : ''}${event.passed ? 'passed' : 'failed'})`;
    case 'pr.merged':
      return `pr.merged${event.sha === SHA_STALE ? '(stale)' : ''}`;
    case 'deploy.status':
      return `deploy.status(${event.environment} ${event.state})`;
    case 'job.started':
      return `job.started${event.jobId === STALE_JOB ? '(stale)' : ''}`;
    case 'job.exited':
      return `job.exited(${event.jobId === STALE_JOB ? 'stale ' : ''}${event.code}${event.question ? ' asking' : ''})`;
    case 'effect.done':
      return `effect.done(${event.effect})`;
    case 'effect.failed':
      return `effect.failed(${event.effect} ${event.retriable ? 'retriable' : 'final'})`;
    case 'timer.fired':
      return `timer.fired${event.deadline === STALE_DEADLINE ? '(stale)' : ''}`;
    case 'decision.resolved':
      return `decision.resolved(${event.decisionId === STALE_DECISION ? 'stale ' : ''}${event.option})`;
    default:
      return event.type;
  }
}

function pathName(index: number, edges: readonly ModelEdge[]): string {
  const last = edges.at(-1);
  const final = last ? describeState(last.after.value) : 'analysis.preparing';
  return `#${index + 1} reaches ${final} via ${edges.map((e) => eventLabel(e.event)).join(' → ') || 'nothing'}`;
}

/** Builds the model of the task machine, its adjacency, and a greedy cover of every accepted edge by paths. */
export function buildTaskModelGraph(options = { maxSteps: 60, maxDetour: 8 }): TaskModelGraph {
  const model = createTaskModel();
  // The package's declaration of getAdjacencyMap points at a file it does not ship, so its type is restated.
  const adjacency = model.getAdjacencyMap() as AdjacencyMap<TaskSnapshot, TaskEvent>;
  const states = new Map<string, TaskSnapshot>();
  const out = new Map<string, ModelEdge[]>();
  const refused: ModelEdge[] = [];
  for (const [from, { state, transitions }] of Object.entries(adjacency)) {
    states.set(from, state);
    const edges: ModelEdge[] = [];
    for (const [eventKey, next] of Object.entries(transitions) as Array<[string, { event: TaskEvent; state: TaskSnapshot }]>) {
      const edge: ModelEdge = { id: `${from}|${eventKey}`, from, to: key(next.state), event: next.event, before: state, after: next.state };
      (accepts(state, next.event) ? edges : refused).push(edge);
    }
    out.set(from, edges);
  }
  const initial = Object.keys(adjacency)[0]!;
  const graph = { initial, out };
  // The library's shortest paths to every state seed the cover; each is re-read as edges of this graph.
  const seeds = model.getShortestPaths().map((path) => {
    const edges: ModelEdge[] = [];
    let at = initial;
    for (const step of path.steps.slice(1)) {
      const edge = out.get(at)?.find((e) => e.id === `${at}|${JSON.stringify(step.event)}`);
      if (!edge) throw new Error(`model: a shortest path takes ${step.event.type}, which the graph does not have from ${at}`);
      edges.push(edge);
      at = edge.to;
    }
    return edges;
  });
  const paths = coverPaths(graph, seeds, options).map((edges, i) => ({ name: pathName(i, edges), edges }));
  return { initial, states, out, refused, paths, prefixes: shortestPaths(graph) };
}
