import { summarize, viewOf, type TaskSummary, type TaskView } from './views.ts';
import { Runtime, type RuntimeOptions } from './runtime.ts';
import type { HistoryEntry, HistoryRange, Store, TaskRecord } from '../store/index.ts';
import type { CreateTaskInput, SendOptions, SendOutcome, TaskEventInput } from './types.ts';
import { TASK_MACHINE_ID, TASK_MACHINE_VERSION } from '../machines/index.ts';
import type { DeclareOutcome, JobRecord, Workbench } from './work/index.ts';
import { effectStats, releaseEffect, type EffectRecord, type EffectStatus, type ReleaseOutcome } from './effects/index.ts';
import { refreshStage, type RefreshResult } from './refresh-stage.ts';
import { Decisions } from './decisions/index.ts';
import { DEFAULT_RETENTION, sweepRetention, type RetentionPolicy, type TaskArchive, type TaskCollection } from './retention/index.ts';
import { Alerts, followRateLimit } from './alerts/index.ts';
import type { RateLimit } from './rate-limit.ts';
import { randomId } from './world.ts';
import { CommitFeed, type CommitListener } from './commit-feed.ts';
import { ConveyorMetrics, type BackgroundFigures } from './metrics/index.ts';
import { replayHistory, type ReplayedEntry } from './task-replay.ts';
import type { ActivityRecord } from './agents/index.ts';

/** What the background actors (supervisor, reconciler, reaper) show the API: their figures and the operator's switch. */
export interface BackgroundControl {
  status(): { reconciler: unknown; reaper: unknown; supervisor: unknown; [more: string]: unknown };
  /** Switches a background loop on or off; refused when no loop has that name. */
  setEnabled(name: string, enabled: boolean): { ok: true; name: string; enabled: boolean; state: string } | { ok: false; message: string };
  /** Asks the forge for the head of a task's pull request and tells the task (as the reconciler's probe does). */
  askHead?(taskId: string): void;
  stop(): Promise<void>;
}

export interface ConveyorOptions extends RuntimeOptions {
  store: Store;
  /** Where finished tasks go after their age (SPEC R40); without it nothing is archived. */
  archive?: TaskArchive;
  /** Agents, worktrees, the scheduler and dependencies; without it every stage's work is instant. */
  workbench?: Workbench;
}

/** The one interface server/ uses: the runtime for writes, read models for inspection. */
export class Conveyor {
  readonly runtime: Runtime;
  private readonly store: Store;
  private readonly feed: CommitFeed;
  private readonly startedAt: number;

  readonly workbench: Workbench | null;
  readonly decisions: Decisions;
  /** Alerts as operators see them (message, suggested action), and their acknowledgement. */
  readonly alertBoard: Alerts;
  /** This conveyor's Prometheus figures, in a registry of its own. */
  readonly metrics: ConveyorMetrics;
  #background: BackgroundControl | null = null;
  readonly #archive: TaskArchive | null;

  constructor(opts: ConveyorOptions) {
    this.feed = new CommitFeed(opts.store);
    this.store = this.feed.store;
    this.#archive = opts.archive ?? null;
    this.workbench = opts.workbench ?? null;
    this.runtime = new Runtime({ ...opts, store: this.store, implementations: opts.implementations ?? this.workbench?.implementations });
    this.startedAt = this.runtime.clock.now();
    this.decisions = new Decisions(this.runtime);
    this.alertBoard = new Alerts(this.runtime);
    this.metrics = new ConveyorMetrics({
      tasksByStage: () => this.#tasksByStage(),
      actors: () => ({ live: this.runtime.liveCount(), sleeping: this.runtime.sleepingCount() }),
      events: () => ({ ...this.runtime.counters }),
      scheduler: () => this.workbench?.scheduler.stats() ?? null,
      effectsInFlight: () => this.store.list<EffectRecord>('effects').filter((r) => r.status === 'started').length,
      background: () => (this.#background?.status() as BackgroundFigures | undefined) ?? null,
      openDecisions: () => this.decisions.list('pending').length,
      alerts: () => this.store.list<{ kind?: string; acknowledged?: unknown }>('alerts').map((a) => ({ kind: a.kind ?? 'unknown', acknowledged: a.acknowledged !== undefined })),
    });
    this.store.observe?.(this.metrics.store);
    this.feed.follow((records) => this.metrics.committed(records));
    if (this.workbench) this.watchRateLimit(this.workbench.effects.forge.rateLimit);
  }

  /** Counts a client's rate-limited calls and alerts when one gives up past its budget. */
  watchRateLimit(limit: RateLimit): () => void {
    return followRateLimit(limit, { runtime: this.runtime, count: (e) => this.metrics.rateLimited(e.client, e.outcome) });
  }

  /** Loads the store and restores every task; throws (naming file or task) on anything it cannot trust. */
  async start(): Promise<void> {
    await this.store.load(this.runtime.fold);
    // Before any task's work is restored: git interrupted by the last stop must fail no task.
    await this.workbench?.repair();
    this.runtime.start();
    // Reported by task id, once per task: listed in status() and cancellable, never silently skipped.
    const quarantined = this.runtime.quarantined().filter((q) => !this.store.get('alerts', `quarantined:${q.taskId}`));
    if (quarantined.length > 0) {
      const at = this.runtime.clock.now();
      await this.store.commit(quarantined.map((q) => ({
        kind: 'put' as const, collection: 'alerts' as const, id: `quarantined:${q.taskId}`,
        value: {
          kind: 'task_quarantined', at, taskId: q.taskId, state: q.state, reason: q.error,
          message: `task ${q.taskId} is quarantined in ${q.state}: its persisted snapshot is in error (${q.error}); it takes only a cancel`,
          suggestedAction: `Cancel it (POST /api/tasks/${q.taskId}/events {"type":"cancel"}) or run a build that can restore it.`,
        },
      })));
    }
    this.workbench?.attach(this.runtime);
  }

  /** Follows what every durable commit wrote (transitions, decisions, alerts, jobs, effects), in commit order. */
  onCommit(listener: CommitListener): () => void {
    return this.feed.follow(listener);
  }

  /** Creates a task (atomic per tracker issue) and declares its dependencies, if any. */
  async createTask(input: CreateTaskInput & { dependsOn?: string[] }, opts: SendOptions) {
    const { dependsOn, ...rest } = input;
    const result = await this.runtime.createTask(rest, opts);
    const dependencies = result.created && dependsOn?.length ? await this.declareDependencies(result.taskId, dependsOn) : null;
    return { ...result, dependencies };
  }

  /** Declares that a task waits for others (SPEC R14); a cycle is refused and holds every task in it. */
  async declareDependencies(taskId: string, dependsOn: string[]): Promise<DeclareOutcome> {
    if (!this.workbench?.dependencies) return { ok: true, waitingOn: [], unknown: dependsOn };
    return this.workbench.dependencies.declare(taskId, dependsOn);
  }

  waitingOn(taskId: string): string[] {
    return this.workbench?.dependencies?.waitingOn(taskId) ?? [];
  }

  job(id: string): JobRecord | undefined {
    return this.store.get<JobRecord>('jobs', id);
  }

  /** What a job's agent did, from its activity log beside its log. */
  jobActivity(job: JobRecord): Promise<ActivityRecord[]> {
    return this.workbench?.activityOf(job.logPath) ?? Promise.resolve([]);
  }

  /** A task's jobs, live or archived with it. */
  jobsOf(taskId: string): JobRecord[] {
    return this.#archived(taskId, 'jobs') ?? this.jobs({ taskId });
  }

  /** The documents of an archived task in one of its collections, or undefined for a task still live. */
  #archived<T>(taskId: string, collection: TaskCollection): T[] | undefined {
    if (this.store.getTask(taskId) || !this.#archive) return undefined;
    return this.#archive.find(taskId)?.documents?.[collection]?.map((d) => d.value as T);
  }

  /** Job records of one task, stage or status, or all of them. */
  jobs(filter: { taskId?: string; stage?: string; status?: JobRecord['status'] } = {}): JobRecord[] {
    return this.store
      .list<JobRecord>('jobs')
      .filter((j) => (!filter.taskId || j.taskId === filter.taskId) && (!filter.stage || j.stage === filter.stage) && (!filter.status || j.status === filter.status));
  }

  /** Re-syncs the stage's worktree with its remote, in the task's own turn (see refresh-stage.ts). */
  refreshStage(taskId: string, stage: string): Promise<RefreshResult> {
    return refreshStage({ runtime: this.runtime, task: (id) => this.task(id), hasWorktrees: (repo) => this.workbench?.hasRepo(repo) ?? false }, taskId, stage);
  }

  /** Whether a job token is the live token of that job (valid only while the job runs). */
  verifyJobToken(jobId: string, token: string): boolean {
    return this.workbench?.tokens.verify(jobId, token) ?? false;
  }

  async send(taskId: string, event: TaskEventInput, opts: SendOptions): Promise<SendOutcome> {
    const outcome = await this.runtime.send(taskId, event, opts);
    // A CI status never names a head; a task that has none yet asks the forge which sha its pull request is at.
    if (event.type === 'ci.status' && outcome.status === 'ignored' && !this.runtime.contextOf(taskId)?.head) this.#background?.askHead?.(taskId);
    return outcome;
  }

  /** A task's view, live or archived (SPEC R40). */
  task(id: string): TaskView | undefined {
    const record = this.record(id);
    return record && viewOf(record, this.runtime.machine);
  }

  /** Moves finished tasks past their age to the archive and forgets old delivery keys; how many tasks moved. */
  retain(policy: RetentionPolicy = DEFAULT_RETENTION): Promise<number> {
    if (!this.#archive) return Promise.resolve(0);
    return sweepRetention({ store: this.store, archive: this.#archive, now: this.runtime.clock.now(), policy, forget: (r) => this.runtime.forget(r) });
  }

  tasks(filter: { stage?: string; repo?: string; status?: string } = {}): TaskSummary[] {
    const out: TaskSummary[] = [];
    for (const record of this.store.listTasks()) {
      const s = summarize(record);
      if (filter.stage && s.stage !== filter.stage) continue;
      if (filter.repo && s.repo !== filter.repo) continue;
      if (filter.status && s.status !== filter.status) continue;
      out.push(s);
    }
    return out;
  }

  /** When a live task last accepted an event, without reading its history; undefined if it never did. */
  lastAcceptedAt(id: string): number | undefined {
    return this.store.historySummary(id)?.lastAcceptedAt ?? undefined;
  }

  /** A task's history, oldest first, or the slice of it `range` names (of a live task, read without the rest). */
  history(id: string, range?: HistoryRange): readonly HistoryEntry[] {
    if (this.store.getTask(id) || !this.#archive) return this.store.getHistory(id, range);
    const all = this.#archive.find(id)?.history ?? [];
    return range === undefined ? all : all.slice(range.from, range.from + range.count);
  }

  /**
   * Time travel: the task as it stood after each of its first `to` history entries, folded from its
   * creation with the chart's pure transition; undefined for a task that does not exist.
   */
  replay(id: string, to?: number): ReplayedEntry[] | undefined {
    const record = this.record(id);
    if (!record) return undefined;
    return replayHistory({ current: this.runtime.chart }, record, this.history(id), to);
  }

  record(id: string): TaskRecord | undefined {
    return this.store.getTask(id) ?? this.#archive?.find(id)?.task;
  }

  hasDelivery(key: string): boolean {
    return this.store.hasDelivery(key);
  }

  taskForIssue(issueId: string): string | undefined {
    return this.store.taskForIssue(issueId);
  }

  taskForBranch(repo: string, branch: string): string | undefined {
    return this.runtime.index.taskForBranch(repo, branch);
  }

  /** The live task whose head is pull request `number` of the repository. */
  taskForPullRequest(repo: string, number: number): string | undefined {
    for (const record of this.store.listTasks()) {
      if (record.meta.repo === repo && this.runtime.contextOf(record.id)?.head?.pr === number) return record.id;
    }
    return undefined;
  }

  taskForHeadSha(sha: string): string | undefined {
    return this.runtime.index.taskForHeadSha(sha);
  }

  /** An event that names no task (or more than one) is kept for inspection, never applied (SPEC R10); once per delivery key. */
  async recordUnrouted(deliveryKey: string | undefined, event: unknown, reason: string): Promise<void> {
    const at = this.runtime.clock.now();
    const id = deliveryKey ?? `unrouted:${at}:${randomId(this.runtime.randomBytes, 10)}`;
    if (this.store.get('alerts', id) !== undefined) return;
    await this.store.commit([
      { kind: 'put', collection: 'alerts', id, value: { kind: 'unrouted_event', at, reason, event } },
      ...(deliveryKey ? [{ kind: 'delivery' as const, key: deliveryKey, at }] : []),
    ]);
  }

  /** Alerts as their raisers stored them. */
  alerts(): unknown[] {
    return this.store.list('alerts');
  }

  /** The effect journal, newest first, optionally of one status or one task (SPEC R32). */
  effects(filter: { status?: EffectStatus; taskId?: string } = {}): EffectRecord[] {
    return ((filter.taskId && this.#archived<EffectRecord>(filter.taskId, 'effects')) || this.store.list<EffectRecord>('effects'))
      .filter((r) => (!filter.status || r.status === filter.status) && (!filter.taskId || r.taskId === filter.taskId))
      .sort((a, b) => b.startedAt - a.startedAt);
  }

  /** Force-releases an effect stuck in `started`: journaled as failed by `by`, annotated, and reported to its task. */
  releaseEffect(key: string, reason: string, by: string): Promise<ReleaseOutcome> {
    return releaseEffect(this.runtime, key, reason, by);
  }

  /** Every task's committed record, for sweeps that read them all without starting actors. */
  records(): Iterable<TaskRecord> {
    return this.store.listTasks();
  }

  /** Hands the background actors to the conveyor: their figures join status(), and stop() stops them first. */
  attachBackground(background: BackgroundControl): void {
    this.#background = background;
  }

  background(): BackgroundControl | null {
    return this.#background;
  }

  #tasksByStage(): Record<string, number> {
    const byStage: Record<string, number> = {};
    for (const t of this.tasks()) byStage[t.stage] = (byStage[t.stage] ?? 0) + 1;
    return byStage;
  }

  status() {
    const byStage = this.#tasksByStage();
    return {
      bootId: this.runtime.bootId,
      startedAt: new Date(this.startedAt).toISOString(),
      machine: { id: TASK_MACHINE_ID, version: TASK_MACHINE_VERSION },
      tasks: { total: this.store.taskCount(), byStage, live: this.runtime.liveCount(), sleeping: this.runtime.sleepingCount(), actorStarts: this.runtime.actorStarts },
      quarantined: this.runtime.quarantined(),
      events: { ...this.runtime.counters },
      store: this.store.stats(),
      scheduler: this.workbench?.scheduler.stats() ?? null,
      effects: effectStats(this.effects()),
      ...(this.#background?.status() ?? { reconciler: null, reaper: null, supervisor: null }),
    };
  }

  /** Drains every mailbox, then checkpoints and closes the store. */
  async stop(): Promise<void> {
    await this.#background?.stop();
    await this.runtime.stop();
    await this.store.close();
  }
}
