import { randomBytes } from 'node:crypto';
import { createActor, type Actor, type AnyActorRef } from 'xstate';
import {
  compileTaskMachine, defaultPipeline, describeState, explainRefusal, INVOKE_FAILED_PREFIX, stageOf,
  TASK_MACHINE_ID, TASK_MACHINE_VERSION,
  type PipelineDefinition, type TaskContext, type TaskEmitted, type TaskEvent, type TaskInput, type TaskMachine,
} from '../machines/index.ts';
import type { Collection, EventSource, HistoryEntry, Store, StoreRecord, TaskFold, TaskRecord, TaskStep } from '../store/index.ts';
import { systemClock, type Clock } from './clock.ts';
import { emissionRecords, type DecisionRecord } from './decisions/decision-record.ts';
import { deferred, type Deferred } from './deferred.ts';
import { dormantSnapshot, invokesWork, takeDormant } from './dormant-transition.ts';
import { MissingImplementationError, RuntimeRefusedError, RuntimeStoppingError, TaskEventError, TaskRestoreError } from './errors.ts';
import { errorMessage, forcedSnapshot } from './forced-transitions.ts';
import { guardImplementations } from './guarded-actor.ts';
import { missingImplementations } from './implementation-check.ts';
import { Invocations } from './invocations.ts';
import { KeyedSerial } from './keyed-serial.ts';
import { instantImplementations } from './instant-implementations.ts';
import { restorableSnapshot, type Migrations } from './restorable-snapshot.ts';
import { taskFold } from './task-fold.ts';
import { TaskIndex } from './task-index.ts';
import { Wakeups } from './wakeups.ts';
import { randomId, type RandomBytes } from './world.ts';
import type {
  CommittedTransition, CreateTaskInput, Implementations, RuntimeHandle, SendOptions, SendOutcome, TaskEventInput,
} from './types.ts';

export interface RuntimeOptions {
  store: Store;
  clock?: Clock;
  /** Where task and boot ids come from; crypto's randomness unless simulated. */
  randomBytes?: RandomBytes;
  pipeline?: PipelineDefinition;
  implementations?: Implementations;
  bootId?: string;
  /** Upgrades a persisted snapshot from the version it names to the next one. */
  migrations?: Migrations;
  /** Charts of older task machine versions, so journaled steps taken under them replay with them. */
  charts?: Record<number, TaskMachine>;
}

/** One task's live part: its actor while it has work in flight, and the mailbox that serializes it. */
interface Cell {
  id: string;
  actor: Actor<TaskMachine> | null;
  /** Emitted by the actor during the transition being processed. */
  emitted: TaskEmitted[];
  commit: Deferred | null;
  /** Revivals in a row since the task last committed; each waits longer. */
  revivals: number;
}

/** The key of a task's mailbox among the runtime's turns. */
const mailbox = (taskId: string) => `task:${taskId}`;

/** A task whose only pending work is a deadline further away than this sleeps until this long before it. */
const WAKE_MARGIN_MS = 60_000;
/** A task whose actor was dropped is revived after this, doubling while the store keeps refusing, up to a minute. */
const REVIVE_BASE_MS = 500;
const REVIVE_MAX_MS = 60_000;

type PersistedShape = { status?: string; children?: Record<string, { src?: unknown }>; context?: { deadline?: number | null } };

/** Runs one XState actor per task; the only writer of tasks (ARCHITECTURE invariant 2). */
export class Runtime implements RuntimeHandle {
  readonly clock: Clock;
  readonly randomBytes: RandomBytes;
  readonly bootId: string;
  readonly machine: TaskMachine;
  /** The task chart with no implementations: what the journal is folded with. */
  readonly chart: TaskMachine;
  /** Replays a journaled step over the snapshot before it (the store's load uses it). */
  readonly fold: TaskFold;
  readonly pipeline: PipelineDefinition;
  readonly index = new TaskIndex();
  private readonly wakeups: Wakeups;
  private readonly store: Store;
  private readonly cells = new Map<string, Cell>();
  /** Each task's mailbox, and any other work of this runtime that takes turns per key (effect records). */
  readonly turns = new KeyedSerial();
  private readonly creating = new Map<string, Promise<{ taskId: string; created: boolean }>>();
  private readonly listeners = new Set<(t: CommittedTransition) => void>();
  private readonly migrations: Migrations;
  /** Live invocations per task, so a dropped actor's work is detached rather than stopped as if the task left. */
  private readonly invocations = new Invocations();
  /** Tasks whose persisted snapshot is in error (left by an older build): listed, cancellable, never run. */
  private readonly quarantine = new Map<string, { state: string; error: string }>();
  #stopping = false;
  private started = false;
  readonly counters = { accepted: 0, ignored: 0, duplicates: 0, created: 0, commitFailures: 0, eventFailures: 0 };
  /** Task actors started since boot: on creation, and when a state invokes work; a dormant task's events start none. */
  actorStarts = 0;

  constructor(opts: RuntimeOptions) {
    this.store = opts.store;
    this.clock = opts.clock ?? systemClock;
    this.randomBytes = opts.randomBytes ?? ((n) => randomBytes(n));
    this.bootId = opts.bootId ?? randomId(this.randomBytes, 10);
    this.pipeline = opts.pipeline ?? defaultPipeline;
    this.migrations = opts.migrations ?? {};
    this.wakeups = new Wakeups(this.clock, (taskId) => this.wake(taskId));
    const impls = (opts.implementations ?? instantImplementations)(this);
    const chart = (this.chart = compileTaskMachine(this.pipeline));
    this.fold = taskFold({ current: chart, older: opts.charts, migrations: this.migrations });
    // A name the chart uses with nothing behind it would silently do nothing: refuse to run instead.
    const missing = missingImplementations(chart, impls);
    if (missing.length > 0) throw new MissingImplementationError(missing);
    const host = {
      committed: (taskId: string) => this.committed(taskId),
      failed: (taskId: string, invocation: AnyActorRef, error: unknown) => this.failed(taskId, invocation, error),
      track: (taskId: string, detach: () => void) => this.invocations.track(taskId, detach),
    };
    this.machine = chart.provide({ actors: guardImplementations(host, impls) as never });
  }

  /** Restores every task: refuses loudly on a record it cannot run, then revives those with work in flight. */
  start(): void {
    if (this.started) return;
    const refused: string[] = [];
    for (const record of this.store.listTasks()) {
      try {
        const snapshot = restorableSnapshot(record, this.migrations) as PersistedShape & { value?: unknown };
        // A state this chart does not have (a renamed stage, say) is refused now, not at the task's next event.
        this.machine.resolveState({ value: snapshot.value as never, context: snapshot.context as never });
      } catch (e) {
        refused.push(e instanceof TaskRestoreError ? e.message : `runtime: task ${record.id}: its persisted snapshot does not fit the task machine: ${(e as Error).message}`);
      }
    }
    if (refused.length > 0) throw new RuntimeRefusedError(refused);
    this.started = true;
    for (const record of this.store.listTasks()) {
      this.index.update(record);
      const snap = record.snapshot as PersistedShape & { value?: never; error?: unknown };
      if (snap.status === 'error') {
        this.quarantine.set(record.id, { state: describeState(snap.value ?? 'unknown'), error: errorMessage(snap.error ?? 'unknown error') });
        continue;
      }
      // Tasks waiting on the outside world or a far deadline stay dormant; those with work in flight run now.
      if (snap.status !== 'active' || Object.keys(snap.children ?? {}).length === 0) continue;
      const sleep = this.sleepUntil(snap.children ?? {}, snap.context?.deadline ?? null);
      if (sleep === null) this.hydrate(this.cell(record.id));
      else this.wakeups.schedule(record.id, sleep);
    }
  }

  /**
   * When a task whose only children are timers may sleep until, or null: its actor must stay live
   * (work in flight, or a deadline within the wake margin).
   */
  private sleepUntil(children: Record<string, { src?: unknown }>, deadline: number | null): number | null {
    if (deadline === null) return null;
    if (!Object.values(children).every((c) => c.src === 'timer')) return null;
    const wakeAt = deadline - WAKE_MARGIN_MS;
    return wakeAt > this.clock.now() ? wakeAt : null;
  }

  /** Revives a sleeping task through its mailbox, so the wake is ordered with its events. */
  private wake(taskId: string): void {
    if (this.#stopping) return;
    const cell = this.cell(taskId);
    this.turns.run(mailbox(taskId), () => {
      if (cell.actor || !this.store.getTask(taskId)) return;
      this.hydrate(cell);
      // A revived task with only a far deadline goes back to sleep.
      this.settle(cell);
    }).catch(() => undefined);
  }

  /**
   * The task's actor was dropped with work in flight (a commit the store refused, an error outside an
   * event): the work's report may be lost with it, so the task is revived from its committed snapshot
   * soon, which runs its invocations and timers again (ARCHITECTURE invariant 8: nothing waits forever).
   */
  private revive(cell: Cell): void {
    if (this.#stopping) return;
    const delay = Math.min(REVIVE_MAX_MS, REVIVE_BASE_MS * 2 ** cell.revivals);
    cell.revivals++;
    this.wakeups.schedule(cell.id, this.clock.now() + delay);
  }

  get stopping(): boolean {
    return this.#stopping;
  }

  detached(taskId: string): boolean {
    return this.#stopping || this.invocations.detaching(taskId);
  }

  /** Tasks whose persisted snapshot is in error: they take only task.cancel. */
  quarantined(): { taskId: string; state: string; error: string }[] {
    return [...this.quarantine].map(([taskId, q]) => ({ taskId, ...q }));
  }

  /**
   * An implementation threw or rejected: the task hears it as the invoke's error event, through its
   * mailbox. A failure of an invocation the task has since left is refused as stale. Retried with
   * backoff while the store refuses the commit, so the failure is never lost.
   */
  private failed(taskId: string, invocation: AnyActorRef, error: unknown, attempt = 1): void {
    if (this.#stopping) return;
    const event = { type: `${INVOKE_FAILED_PREFIX}${invocation.id}` as const, error: errorMessage(error) };
    this.send(taskId, event, { source: 'runtime', invocation }).catch(() => {
      if (attempt >= 6) return;
      this.clock.setTimeout(() => this.failed(taskId, invocation, error, attempt + 1), 500 * 2 ** attempt);
    });
  }

  onCommitted(listener: (t: CommittedTransition) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  meta(taskId: string) {
    return this.store.getTask(taskId)?.meta;
  }

  /** The task's committed revision (bumped by every write of it), or undefined for an unknown task. */
  rev(taskId: string): number | undefined {
    return this.store.getTask(taskId)?.rev;
  }

  async write(records: StoreRecord[]): Promise<void> {
    await this.store.commit(records);
  }

  read<T>(collection: Collection, id: string): T | undefined {
    return this.store.get<T>(collection, id);
  }

  list<T>(collection: Collection): T[] {
    return this.store.list<T>(collection);
  }

  entries<T>(collection: Collection): [string, T][] {
    return this.store.entries<T>(collection);
  }

  async annotate(taskId: string, entry: Omit<HistoryEntry, 'at' | 'from' | 'to'>): Promise<void> {
    const state = this.describe(taskId);
    await this.store.commit([{ kind: 'history', taskId, entry: { ...entry, at: this.clock.now(), from: state, to: state } }]);
  }

  /** The task's current state as one path ("review.gating"). */
  describe(taskId: string): string {
    const record = this.store.getTask(taskId);
    return record ? describeState((record.snapshot as { value: never }).value) : '';
  }

  /** The committed snapshot's context, without starting the actor. */
  contextOf(taskId: string): TaskContext | undefined {
    return (this.store.getTask(taskId)?.snapshot as { context?: TaskContext } | undefined)?.context;
  }

  committed(taskId: string): Promise<void> {
    return this.cells.get(taskId)?.commit?.promise ?? Promise.resolve();
  }

  /** Creates a task, or returns the one already made for the same tracker issue (SPEC R11). */
  createTask(input: CreateTaskInput, opts: SendOptions): Promise<{ taskId: string; created: boolean }> {
    if (this.#stopping) return Promise.reject(new RuntimeStoppingError());
    const issue = input.trackerIssueId;
    if (issue !== undefined) {
      const existing = this.store.taskForIssue(issue);
      if (existing) return this.seen(existing, opts);
      const inFlight = this.creating.get(issue);
      if (inFlight) return inFlight.then((r) => this.seen(r.taskId, opts));
    }
    const work = this.create(input, opts);
    if (issue !== undefined) {
      this.creating.set(issue, work);
      void work.finally(() => this.creating.delete(issue)).catch(() => undefined);
    }
    return work;
  }

  /** The delivery that lost a creation race is still recorded, so its redelivery is a duplicate too. */
  private async seen(taskId: string, opts: SendOptions): Promise<{ taskId: string; created: boolean }> {
    if (opts.deliveryKey && !this.store.hasDelivery(opts.deliveryKey)) {
      await this.store.commit([{ kind: 'delivery', key: opts.deliveryKey, at: this.clock.now(), taskId }]);
    }
    return { taskId, created: false };
  }

  private async create(input: CreateTaskInput, opts: SendOptions): Promise<{ taskId: string; created: boolean }> {
    const id = randomId(this.randomBytes, 10);
    const at = this.clock.now();
    const meta = {
      repo: input.repo, title: input.title, trackerIssueId: input.trackerIssueId, trackerProjectId: input.trackerProjectId,
      branch: input.branch ?? `conveyor/${id}`, createdAt: at,
    };
    const limits = this.limits();
    const taskInput: TaskInput = { id, repo: meta.repo, branch: meta.branch, createdAt: at, limits };
    const cell = this.cell(id);
    const commit = (cell.commit = deferred());
    const actor = createActor(this.machine, { input: taskInput, id });
    this.listen(cell, actor);
    actor.start();
    this.actorStarts++;
    const to = describeState(actor.getSnapshot().value);
    // The limits are the initial state's input: a replay computes that state from this entry.
    const entry: HistoryEntry = { at, source: opts.source, event: { type: 'task.created', ...input, branch: meta.branch, limits }, accepted: true, from: '', to };
    const step: TaskStep = {
      kind: 'step', taskId: id, rev: 1, version: TASK_MACHINE_VERSION, machineId: TASK_MACHINE_ID, meta, entry, snapshot: actor.getPersistedSnapshot(),
    };
    const records: StoreRecord[] = [step, ...this.emissions(cell, at)];
    if (opts.deliveryKey) records.push({ kind: 'delivery', key: opts.deliveryKey, at, taskId: id });
    try {
      await this.store.commit(records);
    } catch (e) {
      commit.reject(e);
      actor.stop();
      this.cells.delete(id);
      throw e;
    }
    commit.resolve();
    cell.commit = null;
    this.counters.created++;
    this.index.update(this.store.getTask(id)!);
    this.settle(cell);
    this.notify({ taskId: id, from: '', to, event: { type: 'task.created', at }, source: opts.source });
    return { taskId: id, created: true };
  }

  /** Routes an event to a task's mailbox; resolves once its outcome is durable (SPEC R9). */
  send(taskId: string, event: TaskEventInput, opts: SendOptions): Promise<SendOutcome> {
    if (this.#stopping) return Promise.reject(new RuntimeStoppingError());
    if (!this.store.getTask(taskId)) return Promise.resolve({ status: 'not_found', taskId });
    const cell = this.cell(taskId);
    return this.turns.run(mailbox(taskId), () => this.process(cell, event, opts));
  }

  private async process(cell: Cell, input: TaskEventInput, opts: SendOptions): Promise<SendOutcome> {
    const taskId = cell.id;
    if (opts.deliveryKey && this.store.hasDelivery(opts.deliveryKey)) {
      this.counters.duplicates++;
      return { status: 'duplicate', taskId };
    }
    const record = this.store.getTask(taskId)!;
    const at = this.clock.now();
    const event = { ...input, at } as TaskEvent;
    const extra: StoreRecord[] = opts.deliveryKey ? [{ kind: 'delivery', key: opts.deliveryKey, at, taskId }] : [];
    const quarantined = this.quarantine.get(taskId);
    if (quarantined) return this.processQuarantined(cell, record, event, quarantined, opts, extra);
    // A task with nothing running has no actor: its event is computed with the chart's pure transition.
    const actor = cell.actor;
    const before = actor ? actor.getSnapshot() : dormantSnapshot(this.machine, record, this.migrations);
    const from = describeState(before.value);
    const children = before.children as Record<string, unknown>;
    const stale = opts.invocation !== undefined && children[opts.invocation.id] !== opts.invocation;

    let takes: boolean;
    try {
      // can() evaluates the chart's guards, which may throw as well.
      takes = !stale && before.status === 'active' && before.can(event);
    } catch (e) {
      return this.contain(cell, record, event, e, opts, extra);
    }
    if (!takes) {
      const reason = stale ? `stale: a failure of an invocation the task has left (${errorMessage((event as { error?: unknown }).error)})` : explainRefusal(before, event);
      const entry: HistoryEntry = { at, source: opts.source, event: asRecord(event), accepted: false, reason, from, to: from };
      await this.store.commit([{ kind: 'history', taskId, entry }, ...extra]);
      this.counters.ignored++;
      this.settle(cell);
      return { status: 'ignored', taskId, reason, state: from };
    }

    let taken: ReturnType<typeof takeDormant> | null = null;
    if (!actor) {
      try {
        taken = takeDormant(this.machine, before, event);
      } catch (e) {
        return this.contain(cell, record, event, e, opts, extra);
      }
      if (taken.after.status === 'error') return this.contain(cell, record, event, taken.after.error, opts, extra);
    }
    const commit = (cell.commit = deferred());
    cell.emitted = taken?.emitted ?? [];
    actor?.send(event);
    const after = taken?.after ?? actor!.getSnapshot();
    if (after.status === 'error') {
      // Never committed: the work this transition started waits on a commit that will not come.
      commit.reject(after.error);
      cell.commit = null;
      return this.contain(cell, record, event, after.error, opts, extra);
    }
    const snapshot = taken?.persisted ?? actor!.getPersistedSnapshot();
    const to = describeState(after.value);
    const emitted = cell.emitted.length > 0 ? { emitted: cell.emitted.map(asRecord) } : {};
    const entry: HistoryEntry = { at, source: opts.source, event: asRecord(event), accepted: true, from, to, ...emitted };
    const records: StoreRecord[] = [
      // The journal keeps the event; the snapshot the actor computed stays in memory (a load folds it).
      { kind: 'step', taskId, rev: record.rev + 1, version: TASK_MACHINE_VERSION, entry, snapshot },
      ...this.emissions(cell, at),
      ...extra,
      // Last, so a decision's resolution wins over the withdrawal its own transition emits.
      ...(opts.withTransition ?? []),
    ];
    try {
      await this.store.commit(records);
    } catch (e) {
      // Nothing was applied: drop the actor that ran ahead; the next event restores the committed snapshot.
      this.counters.commitFailures++;
      commit.reject(e);
      cell.commit = null;
      this.drop(cell);
      this.revive(cell);
      throw e;
    }
    commit.resolve();
    cell.commit = null;
    cell.revivals = 0;
    this.counters.accepted++;
    this.index.update(this.store.getTask(taskId)!);
    if (actor) this.settle(cell);
    else this.awaken(cell, snapshot);
    this.notify({ taskId, from, to, event, source: opts.source });
    return { status: 'accepted', taskId, from, to };
  }

  /**
   * A throw while the task took an event: the task stays at its last committed state (its actor is
   * rebuilt from it), the throw is recorded as an alert and a history entry, and the caller hears a
   * TaskEventError so the sender retries. task.cancel and task.hold are taken all the same.
   */
  private async contain(cell: Cell, record: TaskRecord, event: TaskEvent, error: unknown, opts: SendOptions, extra: StoreRecord[]): Promise<SendOutcome> {
    const taskId = cell.id;
    const from = describeState((record.snapshot as { value: never }).value);
    this.drop(cell);
    const forced = await this.force(cell, record, event, opts, extra);
    if (forced) return forced;
    const message = errorMessage(error);
    const at = event.at;
    const entry: HistoryEntry = { at, source: opts.source, event: asRecord(event), accepted: false, reason: `failed: ${message}`, from, to: from };
    const alert = {
      kind: 'task_event_failed', at, taskId, event: event.type, state: from, error: message,
      message: `task ${taskId} failed to take ${event.type} in ${from}: ${message}; it stays in ${from}`,
      suggestedAction: 'The sender retries the event; if it keeps failing, hold or cancel the task and report the error.',
    };
    // No delivery record: the event was not taken, so its redelivery must not count as a duplicate.
    await this.store.commit([{ kind: 'history', taskId, entry }, { kind: 'put', collection: 'alerts', id: `task-event-failed:${taskId}:${at}:${event.type}`, value: alert }]);
    this.counters.eventFailures++;
    // The work in flight at the committed state is watched again.
    try {
      this.hydrate(cell);
      this.settle(cell);
    } catch {
      // Not restorable: the next event says so, naming the task.
    }
    throw new TaskEventError(taskId, event.type, from, message);
  }

  /** Commits the forced result of a cancel or hold; null when the event is neither (or cannot be forced). */
  private async force(cell: Cell, record: TaskRecord, event: TaskEvent, opts: SendOptions, extra: StoreRecord[]): Promise<SendOutcome | null> {
    const persisted = restorableSnapshot(record, this.migrations) as Parameters<typeof forcedSnapshot>[1];
    const snapshot = forcedSnapshot(this.machine, persisted, event);
    if (!snapshot) return null;
    const taskId = cell.id;
    const at = event.at;
    const from = describeState(persisted.value as never);
    const to = describeState(snapshot.value as never);
    const decision = persisted.context.decision;
    // The exit actions did not run: a pending decision is withdrawn here, so none is left open.
    cell.emitted = decision ? [{ type: 'decision.withdrawn', decisionId: decision.id }] : [];
    const entry: HistoryEntry = { at, source: opts.source, event: asRecord(event), accepted: true, reason: 'forced: the chart could not take it', from, to };
    const step: TaskStep = { kind: 'step', taskId, rev: record.rev + 1, version: TASK_MACHINE_VERSION, entry, forced: true, snapshot };
    await this.store.commit([step, ...this.emissions(cell, at), ...extra]);
    this.quarantine.delete(taskId);
    this.counters.accepted++;
    this.index.update(this.store.getTask(taskId)!);
    this.notify({ taskId, from, to, event, source: opts.source });
    return { status: 'accepted', taskId, from, to };
  }

  /** A quarantined task takes task.cancel (forced); anything else is refused, saying why. */
  private async processQuarantined(cell: Cell, record: TaskRecord, event: TaskEvent, q: { state: string; error: string }, opts: SendOptions, extra: StoreRecord[]): Promise<SendOutcome> {
    if (event.type === 'task.cancel') return (await this.force(cell, record, event, opts, extra))!;
    const reason = `quarantined: its persisted snapshot is in error (${q.error}); it takes only task.cancel`;
    const entry: HistoryEntry = { at: event.at, source: opts.source, event: asRecord(event), accepted: false, reason, from: q.state, to: q.state };
    await this.store.commit([{ kind: 'history', taskId: cell.id, entry }, ...extra]);
    this.counters.ignored++;
    return { status: 'ignored', taskId: cell.id, reason, state: q.state };
  }

  /** Drops the task's actor without the task leaving its state: its invocations are detached, not stopped. */
  private drop(cell: Cell): void {
    const actor = cell.actor;
    cell.actor = null;
    this.invocations.detach(cell.id, () => actor?.stop());
  }

  /** A listener that throws must not undo or stall a committed transition. */
  private notify(t: CommittedTransition): void {
    for (const listener of this.listeners) {
      try {
        listener(t);
      } catch {
        // Listeners are followers (notifications, indexes); the transition stands.
      }
    }
  }

  /** Starts the task's actor from its committed snapshot if it is not running. */
  private hydrate(cell: Cell): Actor<TaskMachine> {
    if (cell.actor) return cell.actor;
    this.wakeups.cancel(cell.id);
    const record = this.store.getTask(cell.id)!;
    const snapshot = restorableSnapshot(record, this.migrations);
    // A restored actor takes its context from the snapshot; the machine's input type does not apply.
    const actor = createActor(this.machine, { snapshot, id: cell.id } as never);
    const status = actor.getSnapshot().status;
    if (status === 'error') throw new TaskRestoreError(cell.id, 'its persisted snapshot does not fit the task machine');
    this.listen(cell, actor);
    actor.start();
    this.actorStarts++;
    return actor;
  }

  private listen(cell: Cell, actor: Actor<TaskMachine>): void {
    cell.actor = actor;
    cell.emitted = [];
    actor.on('*', (e) => cell.emitted.push(e as TaskEmitted));
    // Observed, so XState never rethrows it from a timer (which would end the process). A throw while
    // taking an event is contained by process(); one at any other moment drops the actor, and the next
    // event rebuilds it from the committed snapshot.
    actor.subscribe({
      error: () => {
        if (cell.actor !== actor || cell.commit !== null) return;
        this.drop(cell);
        this.revive(cell);
      },
    });
  }

  /** The records what the actor emitted adds to the commit of its transition. */
  private emissions(cell: Cell, at: number): StoreRecord[] {
    const records = emissionRecords(cell.id, cell.emitted, at, (id) => this.store.get<DecisionRecord>('decisions', id), (key) => this.store.get('effects', key));
    cell.emitted = [];
    return records;
  }

  /** An actor with no timers or work in flight is dropped: its committed snapshot is all there is to it. */
  private settle(cell: Cell): void {
    const actor = cell.actor;
    if (!actor) return;
    const snap = actor.getSnapshot();
    const children = snap.children as Record<string, { src?: unknown }>;
    const sleep = snap.status === 'active' ? this.sleepUntil(children, snap.context.deadline) : null;
    if (snap.status !== 'active' || Object.keys(children).length === 0 || sleep !== null) {
      cell.actor = null;
      actor.stop();
      if (sleep !== null) this.wakeups.schedule(cell.id, sleep);
      else this.wakeups.cancel(cell.id);
    }
  }

  /**
   * After a dormant task's transition is durable: an actor only when the new state invokes work (a job,
   * an effect, a near timer), a wake-up for a far deadline, nothing otherwise.
   */
  private awaken(cell: Cell, persisted: unknown): void {
    if (!invokesWork(persisted)) {
      this.wakeups.cancel(cell.id);
      return;
    }
    const snap = persisted as PersistedShape;
    const sleep = this.sleepUntil(snap.children ?? {}, snap.context?.deadline ?? null);
    if (sleep !== null) this.wakeups.schedule(cell.id, sleep);
    else this.hydrate(cell);
  }

  /** Lets go of a finished task the store has archived: its index entries and its idle cell. */
  forget(record: TaskRecord): void {
    this.index.remove(record);
    const cell = this.cells.get(record.id);
    if (cell && cell.commit === null) {
      cell.actor?.stop();
      this.cells.delete(record.id);
    }
  }

  private cell(id: string): Cell {
    let cell = this.cells.get(id);
    if (!cell) {
      cell = { id, actor: null, emitted: [], commit: null, revivals: 0 };
      this.cells.set(id, cell);
    }
    return cell;
  }

  private limits() {
    const p = this.pipeline;
    return {
      maxRetries: p.maxRetries, maxJobAttempts: p.maxJobAttempts, jobTimeoutMs: p.jobTimeoutMs, baseBackoffMs: p.baseBackoffMs,
      gateTimeoutMs: p.gateTimeoutMs, prepareTimeoutMs: p.prepareTimeoutMs, effectTimeoutMs: p.effectTimeoutMs,
    };
  }

  /** Tasks asleep until a far deadline. */
  sleepingCount(): number {
    return this.wakeups.size();
  }

  /** Live actors (tasks with work in flight) and mailboxes with events waiting. */
  liveCount(): number {
    let n = 0;
    for (const c of this.cells.values()) if (c.actor) n++;
    return n;
  }

  /** Stops taking events, lets every mailbox drain, stops the actors. The store is the caller's to close. */
  async stop(): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    this.wakeups.stop();
    await Promise.all([...this.cells.keys()].map((id) => this.turns.settled(mailbox(id))));
    for (const cell of this.cells.values()) {
      cell.actor?.stop();
      cell.actor = null;
    }
  }

  stageOf(taskId: string): string | undefined {
    const record = this.store.getTask(taskId);
    return record ? stageOf((record.snapshot as { value: never }).value) : undefined;
  }
}

export type { EventSource };

const asRecord = (event: TaskEvent | TaskEmitted) => event as unknown as HistoryEntry['event'];
