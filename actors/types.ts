import type { KeyedSerial } from './keyed-serial.ts';
import type { AnyActorLogic } from 'xstate';
import type { TaskContext, TaskEvent } from '../machines/index.ts';
import type { Collection, EventSource, HistoryEntry, StoreRecord, TaskMeta } from '../store/index.ts';
import type { Clock } from './clock.ts';

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** A task event before the runtime stamps its time. */
export type TaskEventInput = DistributiveOmit<TaskEvent, 'at'>;

export interface SendOptions {
  source: EventSource;
  /** A webhook delivery id or replay key: a second event with the same key changes nothing. */
  deliveryKey?: string;
  /** Records committed with the transition, only if the task accepts the event (a decision's resolution). */
  withTransition?: StoreRecord[];
  /** The invocation a failure event comes from; refused as stale unless the task still runs it. */
  invocation?: { readonly id: string };
}

export type SendOutcome =
  | { status: 'accepted'; taskId: string; from: string; to: string }
  | { status: 'ignored'; taskId: string; reason: string; state: string }
  | { status: 'duplicate'; taskId: string }
  | { status: 'not_found'; taskId: string };

export interface CreateTaskInput {
  repo: string;
  title: string;
  trackerIssueId?: string;
  trackerProjectId?: string;
  branch?: string;
}

/** What an invoked actor's implementation may use of the runtime. */
export interface RuntimeHandle {
  readonly clock: Clock;
  readonly bootId: string;
  send(taskId: string, event: TaskEventInput, opts: SendOptions): Promise<SendOutcome>;
  /** True once the runtime is shutting down: invoked actors stop then, but the world they started goes on. */
  readonly stopping: boolean;
  /**
   * True while the task's invocations are stopped without the task leaving their states (shutdown, an
   * actor rebuilt after a failure): the world they started goes on, and the rebuilt actor re-attaches.
   */
  detached(taskId: string): boolean;
  /** Resolves once the task's latest transition is durable; rejects if that commit failed. */
  committed(taskId: string): Promise<void>;
  meta(taskId: string): TaskMeta | undefined;
  /** The task's context as last committed. */
  contextOf(taskId: string): TaskContext | undefined;
  /** Durably writes records that are not a task's state (job records, alerts); resolves when on disk. */
  write(records: StoreRecord[]): Promise<void>;
  read<T>(collection: Collection, id: string): T | undefined;
  list<T>(collection: Collection): T[];
  /** Work that takes turns per key (an effect record's read-modify-write), owned by this runtime. */
  readonly turns: KeyedSerial;
  /** Adds a line to a task's history without an event (a warning, a note); durable when it resolves. */
  annotate(taskId: string, entry: Omit<HistoryEntry, 'at' | 'from' | 'to'>): Promise<void>;
}

export type ActorName = 'prepareStage' | 'runAgent' | 'timer' | 'mergePullRequest' | 'deployStaging' | 'deployProduction';

/** Builds the invoked actors' implementations; given to machine.provide(). */
export type Implementations = (rt: RuntimeHandle) => Partial<Record<ActorName, AnyActorLogic>>;

/** A transition that is now durable: what notifications, streams and indexes listen to. */
export interface CommittedTransition {
  taskId: string;
  from: string;
  to: string;
  /** The event taken; `task.created` for the first transition of a new task. */
  event: TaskEvent | { type: 'task.created'; at: number };
  source: EventSource;
}
