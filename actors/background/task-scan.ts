import type { StateValue } from 'xstate';
import { describeState, type Bound, type TaskContext, type TaskMachine } from '../../machines/index.ts';
import { turnTaker, type TaskMeta, type TaskRecord, type Turn } from '../../store/index.ts';

/** A task as a sweep sees it: where it is, its tags, and when it last changed. */
export interface ScannedTask {
  id: string;
  rev: number;
  /** "development.gating", "onHold", "done". */
  state: string;
  stage: string;
  tags: ReadonlySet<string>;
  /** What keeps its state from waiting forever, as the chart says (machines/waits.ts). */
  bound: Bound | null;
  /** XState's status: active, or done for a finished task. */
  status: string;
  context: TaskContext;
  meta: TaskMeta;
  /** When the task last accepted an event. */
  lastChangeAt: number;
}

type Persisted = { value: StateValue; context: TaskContext; status: string };

interface NodeLike {
  key: string;
  tags: readonly string[];
  meta?: { bound?: Bound };
  states: Record<string, NodeLike>;
  type: string;
}

const NO_TAGS: ReadonlySet<string> = new Set();

/**
 * Reads every task once per sweep without starting actors: tags come from a table built from the chart
 * once, and a task whose rev has not moved since the last sweep costs one map lookup.
 */
export class TaskScan {
  readonly #tags = new Map<string, ReadonlySet<string>>();
  // Keyed by the record itself: the store replaces a task's record on every write and drops it when the
  // task is archived, and a WeakMap lets the entry go with it, so months of tasks do not pile up here.
  readonly #cache = new WeakMap<TaskRecord, ScannedTask>();
  readonly #bounds = new Map<string, Bound>();

  /** `lastAcceptedAt` answers from the store's history index: a sweep never reads a task's history. */
  constructor(machine: TaskMachine, private readonly lastAcceptedAt: (taskId: string) => number | undefined) {
    this.#collect(machine.root as unknown as NodeLike, [], []);
  }

  /** The tags of a state path ("review.working.running"). */
  tagsOf(state: string): ReadonlySet<string> {
    return this.#tags.get(state) ?? NO_TAGS;
  }

  /** One task, re-read only if its record changed. */
  read(record: TaskRecord): ScannedTask {
    const cached = this.#cache.get(record);
    if (cached && cached.rev === record.rev) return cached;
    const snap = record.snapshot as Persisted;
    const state = describeState(snap.value);
    const task: ScannedTask = {
      id: record.id,
      rev: record.rev,
      state,
      stage: state.split('.')[0] ?? state,
      tags: this.tagsOf(state),
      bound: this.#bounds.get(state) ?? null,
      status: snap.status,
      context: snap.context,
      meta: record.meta,
      lastChangeAt: this.lastAcceptedAt(record.id) ?? snap.context.stageEnteredAt,
    };
    this.#cache.set(record, task);
    return task;
  }

  #collect(node: NodeLike, path: string[], inherited: string[]): void {
    const tags = [...inherited, ...node.tags];
    const children = Object.values(node.states ?? {}).filter((c) => c.type !== 'history');
    if (path.length > 0) {
      const key = (path[0] === 'active' ? path.slice(1) : path).join('.');
      if (key) this.#tags.set(key, new Set(tags));
      if (key && node.meta?.bound) this.#bounds.set(key, node.meta.bound);
    }
    for (const child of children) this.#collect(child, [...path, child.key], tags);
  }
}

// A sweep gives the event loop back every this many tasks, so webhooks do not wait behind a whole scan.
const CHUNK = 500;

/** Yields a turn of the event loop on every CHUNK-th call; resolves at once otherwise. */
export const sweepTurns = (): Turn => turnTaker(CHUNK);
