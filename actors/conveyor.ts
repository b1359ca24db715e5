import { summarize, viewOf, type TaskSummary, type TaskView } from './views.ts';
import { Runtime, type RuntimeOptions } from './runtime.ts';
import type { HistoryEntry, Store, TaskRecord } from '../store/index.ts';
import type { CreateTaskInput, SendOptions, SendOutcome, TaskEventInput } from './types.ts';
import { TASK_MACHINE_ID, TASK_MACHINE_VERSION } from '../machines/index.ts';
import type { DeclareOutcome, JobRecord, Workbench } from './work/index.ts';

export interface ConveyorOptions extends RuntimeOptions {
  store: Store;
  /** Agents, worktrees, the scheduler and dependencies; without it every stage's work is instant. */
  workbench?: Workbench;
}

/** The one interface server/ uses: the runtime for writes, read models for inspection. */
export class Conveyor {
  readonly runtime: Runtime;
  private readonly store: Store;
  private readonly startedAt: number;

  readonly workbench: Workbench | null;

  constructor(opts: ConveyorOptions) {
    this.store = opts.store;
    this.workbench = opts.workbench ?? null;
    this.runtime = new Runtime({ ...opts, implementations: opts.implementations ?? this.workbench?.implementations });
    this.startedAt = this.runtime.clock.now();
  }

  /** Loads the store and restores every task; throws (naming file or task) on anything it cannot trust. */
  async start(): Promise<void> {
    await this.store.load();
    this.runtime.start();
    this.workbench?.attach(this.runtime);
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

  jobsOf(taskId: string): JobRecord[] {
    return this.store.list<JobRecord>('jobs').filter((j) => j.taskId === taskId);
  }

  /** Whether a job token is the live token of that job (valid only while the job runs). */
  verifyJobToken(jobId: string, token: string): boolean {
    return this.workbench?.tokens.verify(jobId, token) ?? false;
  }

  send(taskId: string, event: TaskEventInput, opts: SendOptions): Promise<SendOutcome> {
    return this.runtime.send(taskId, event, opts);
  }

  task(id: string): TaskView | undefined {
    const record = this.store.getTask(id);
    return record && viewOf(record, this.runtime.machine);
  }

  tasks(filter: { stage?: string; repo?: string } = {}): TaskSummary[] {
    const out: TaskSummary[] = [];
    for (const record of this.store.listTasks()) {
      const s = summarize(record);
      if (filter.stage && s.stage !== filter.stage) continue;
      if (filter.repo && s.repo !== filter.repo) continue;
      out.push(s);
    }
    return out;
  }

  history(id: string): readonly HistoryEntry[] {
    return this.store.getHistory(id);
  }

  record(id: string): TaskRecord | undefined {
    return this.store.getTask(id);
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

  taskForHeadSha(sha: string): string | undefined {
    return this.runtime.index.taskForHeadSha(sha);
  }

  /** An event that names no task (or more than one) is kept for inspection, never applied (SPEC R10). */
  async recordUnrouted(deliveryKey: string | undefined, event: unknown, reason: string): Promise<void> {
    const at = this.runtime.clock.now();
    const id = deliveryKey ?? `unrouted:${at}:${Math.random().toString(36).slice(2)}`;
    await this.store.commit([
      { kind: 'put', collection: 'alerts', id, value: { kind: 'unrouted_event', at, reason, event } },
      ...(deliveryKey ? [{ kind: 'delivery' as const, key: deliveryKey, at }] : []),
    ]);
  }

  alerts(): unknown[] {
    return this.store.list('alerts');
  }

  status() {
    const byStage: Record<string, number> = {};
    for (const t of this.tasks()) byStage[t.stage] = (byStage[t.stage] ?? 0) + 1;
    return {
      bootId: this.runtime.bootId,
      startedAt: new Date(this.startedAt).toISOString(),
      machine: { id: TASK_MACHINE_ID, version: TASK_MACHINE_VERSION },
      tasks: { total: this.store.taskCount(), byStage, live: this.runtime.liveCount() },
      events: { ...this.runtime.counters },
      store: this.store.stats(),
      scheduler: this.workbench?.scheduler.stats() ?? null,
    };
  }

  /** Drains every mailbox, then checkpoints and closes the store. */
  async stop(): Promise<void> {
    await this.runtime.stop();
    await this.store.close();
  }
}
