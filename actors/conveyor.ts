import { summarize, viewOf, type TaskSummary, type TaskView } from './views.ts';
import { Runtime, type RuntimeOptions } from './runtime.ts';
import type { HistoryEntry, Store, TaskRecord } from '../store/index.ts';
import type { CreateTaskInput, SendOptions, SendOutcome, TaskEventInput } from './types.ts';
import { TASK_MACHINE_ID, TASK_MACHINE_VERSION } from '../machines/index.ts';

export interface ConveyorOptions extends RuntimeOptions {
  store: Store;
}

/** The one interface server/ uses: the runtime for writes, read models for inspection. */
export class Conveyor {
  readonly runtime: Runtime;
  private readonly store: Store;
  private readonly startedAt: number;

  constructor(opts: ConveyorOptions) {
    this.store = opts.store;
    this.runtime = new Runtime(opts);
    this.startedAt = this.runtime.clock.now();
  }

  /** Loads the store and restores every task; throws (naming file or task) on anything it cannot trust. */
  async start(): Promise<void> {
    await this.store.load();
    this.runtime.start();
  }

  createTask(input: CreateTaskInput, opts: SendOptions) {
    return this.runtime.createTask(input, opts);
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
    };
  }

  /** Drains every mailbox, then checkpoints and closes the store. */
  async stop(): Promise<void> {
    await this.runtime.stop();
    await this.store.close();
  }
}
