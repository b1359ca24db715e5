import type { DeliveryWindow } from './delivery-window.ts';
import type { HistoryIndex, HistorySummary } from './history-index.ts';

/** Where an event came from; recorded with every history entry. */
export type EventSource = 'webhook' | 'reconciler' | 'reaper' | 'operator' | 'timer' | 'job' | 'effect' | 'runtime' | 'decision';

/** What a task is about, fixed at creation. */
export interface TaskMeta {
  repo: string;
  title: string;
  trackerIssueId?: string;
  /** The tracker project of that issue, where its status is mirrored. */
  trackerProjectId?: string;
  branch: string;
  createdAt: number;
}

/** The persisted form of one task actor: versioned so a restore can refuse what it does not understand. */
export interface TaskRecord {
  id: string;
  machineId: string;
  version: number;
  /** Bumped on every write; the fence that a write must name. */
  rev: number;
  meta: TaskMeta;
  snapshot: unknown;
}

/** A slice of a task's history: the entries from index `from` (0 the oldest), at most `count` of them. */
export interface HistoryRange {
  from: number;
  count: number;
}

/** One line of a task's history: an accepted or ignored event and what it led to. */
export interface HistoryEntry {
  at: number;
  source: EventSource;
  event: { type: string; [key: string]: unknown };
  accepted: boolean;
  reason?: string;
  from: string;
  to: string;
  /** What the transition emitted (decision opened, task failed), recorded in the same commit. */
  emitted?: { type: string; [key: string]: unknown }[];
  /** The rev the task reached, on an entry a step wrote (a transition); absent on a refused event or a note. */
  rev?: number;
  /** Set on a step that was forced (a cancel or hold the chart could not take). */
  forced?: true;
}

/** Keyed documents other subsystems keep (decisions, jobs, effects, alerts, ...). */
export type Collection = 'decisions' | 'jobs' | 'effects' | 'alerts' | 'meta';

/**
 * A task took an event: the event as its history entry, the task's new rev and the machine version that
 * took it. The journal holds no snapshot: a load folds the step over the task's previous snapshot with
 * the machine's pure transition (see TaskFold). `snapshot` is the result the live actor computed, kept in
 * memory and never written. Rev 1 creates the task (with `machineId` and `meta`; its fold is the
 * machine's initial state); `forced` marks a cancel or hold the chart could not take itself.
 */
export interface TaskStep {
  kind: 'step';
  taskId: string;
  rev: number;
  version: number;
  entry: HistoryEntry;
  forced?: true;
  machineId?: string;
  meta?: TaskMeta;
  snapshot?: unknown;
}

/**
 * Computes the snapshot a journaled step leads to (and the machine version it is in) from the task as it
 * stood before it (undefined for a creation). The runtime provides it: the store knows no machine.
 */
export type TaskFold = (task: TaskRecord | undefined, step: TaskStep) => { snapshot: unknown; version: number };

export type StoreRecord =
  /** Create (expectedRev null) or replace a task; refused when expectedRev is not the stored rev. */
  | { kind: 'task'; task: TaskRecord; expectedRev: number | null }
  /** A transition: rev must be the stored rev + 1 (1 creates the task). */
  | TaskStep
  | { kind: 'history'; taskId: string; entry: HistoryEntry }
  /** A webhook delivery (or replay key) seen; later deliveries with the same key change nothing. */
  | { kind: 'delivery'; key: string; at: number; taskId?: string }
  | { kind: 'put'; collection: Collection; id: string; value: unknown }
  | { kind: 'delete'; collection: Collection; id: string }
  /** Finished tasks moved to the archive file: their records and histories leave the live document (SPEC R40). */
  | { kind: 'archived'; taskIds: string[] }
  /** Delivery keys first seen before `before` are forgotten: past the deduplication window (SPEC R40). */
  | { kind: 'pruned'; before: number };

/**
 * The document the store keeps in memory and checkpoints: live work, the history's index (its entries are
 * in the history file, or in the journal since the last checkpoint) and the delivery keys of the window.
 */
export interface StoreDoc {
  tasks: Record<string, TaskRecord>;
  history: HistoryIndex;
  deliveries: DeliveryWindow;
  /** tracker issue id → task id */
  issues: Record<string, string>;
  collections: Record<Collection, Record<string, unknown>>;
}

/**
 * What the store reports as it works, for metrics. Every method is optional, is called after the fact
 * and must not throw; durations are milliseconds.
 */
export interface StoreObserver {
  /** A commit() call settled: the time from the call to its durable answer, and whether it was stored. */
  commit?(ms: number, stored: boolean): void;
  /** One write to disk: how many records the grouped calls held, its bytes, and how long its fsync took. */
  batch?(records: number, fsyncMs: number, bytes: number): void;
  /** A checkpoint was written (or failed to be), and how long it took. */
  checkpoint?(ms: number, written: boolean): void;
}

/** Persistence behind one interface: the embedded store now, a Postgres store later. */
export interface Store {
  /**
   * Loads the checkpoint and replays the journal, folding each task step with `fold`; throws
   * StoreCorruptError naming file and offset. Without a fold, a journal that holds steps is refused.
   */
  load(fold?: TaskFold): Promise<void>;
  /**
   * Durably commits records as one unit: all of them or none. Calls that arrive while a write is in
   * flight are grouped into the next write (one write, one fsync). Resolves with the batch sequence
   * number once on disk; the in-memory view changes only then. Rejects with StaleWriteError (nothing
   * applied) when a task record's expectedRev is not current, and with StoreWriteError when the disk
   * write fails (nothing applied). Records are copied, except a step's snapshot: the store keeps that object
   * as it is, so the caller must not change it afterwards, and it must be JSON as a replay would read it back
   * (a machine's persisted snapshot is: the fold rebuilds it the same way).
   */
  commit(records: StoreRecord[]): Promise<number>;
  getTask(id: string): TaskRecord | undefined;
  listTasks(): Iterable<TaskRecord>;
  taskCount(): number;
  /**
   * A task's history, oldest first; read from disk on each call (a live task's may be long). With a range,
   * only its entries from index `from`, at most `count` of them: the parts of the file before are not read.
   */
  getHistory(taskId: string, range?: HistoryRange): readonly HistoryEntry[];
  /** How many entries a task's history holds and when it last took (or accepted) an event, without reading it. */
  historySummary(taskId: string): HistorySummary | undefined;
  hasDelivery(key: string): boolean;
  /** Whether some delivery key was first seen before `at` (one the retention sweep would forget). */
  hasDeliveryBefore(at: number): boolean;
  taskForIssue(trackerIssueId: string): string | undefined;
  get<T>(collection: Collection, id: string): T | undefined;
  list<T>(collection: Collection): T[];
  /** The collection's documents with their ids. */
  entries<T>(collection: Collection): [string, T][];
  /** Figures for GET /api/status. */
  stats(): { seq: number; journalRecords: number; checkpoints: number; lastCheckpointAt: number | null };
  /** Writes a final checkpoint and releases files; commits after close reject. */
  close(): Promise<void>;
  /** Reports commits, batches and checkpoints to an observer (metrics); a store without figures omits it. */
  observe?(observer: StoreObserver): void;
}
