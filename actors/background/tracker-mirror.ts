import type { Runtime } from '../runtime.ts';
import type { CommittedTransition } from '../types.ts';
import type { TrackerClient } from './tracker-client.ts';
import type { LogLine } from '../log.ts';

/** The journal record of one status write to the tracker, in the 'effects' collection like every outside effect. */
export interface MirrorRecord {
  key: string;
  taskId: string;
  effect: 'trackerMirror';
  bootId: string;
  startedAt: number;
  status: 'started' | 'completed' | 'failed';
  issueId: string;
  projectId: string;
  stage: string;
  stateId: string;
  finishedAt?: number;
  result?: { issueId: string; stateId: string };
  error?: string;
  retriable?: boolean;
}

export interface TrackerMirrorOptions {
  runtime: Runtime;
  client: TrackerClient;
  /** stage (or done, cancelled, onHold, escalated) → tracker state id. */
  states: Record<string, string>;
  /** The project an issue lives in, or undefined when it cannot be told. */
  projectOf(issueId: string, repo: string, recorded?: string): string | undefined;
  log: LogLine;
}

/**
 * Mirrors a task's stage onto its tracker issue (the configured state for the stage, else for the nearest
 * configured earlier stage), as a journaled effect keyed by task, stage and visit. It runs after the stage
 * change is committed and never holds the task up: a failure is journaled and logged.
 */
export class TrackerMirror {
  readonly #o: TrackerMirrorOptions;
  readonly #order: string[];
  readonly #chains = new Map<string, Promise<void>>();
  #unsubscribe: (() => void) | null = null;
  readonly stats = { mirrored: 0, failed: 0 };

  constructor(opts: TrackerMirrorOptions) {
    this.#o = opts;
    this.#order = [...opts.runtime.pipeline.stages.map((s) => s.id), 'done'];
  }

  start(): void {
    if (this.#unsubscribe) return;
    this.#unsubscribe = this.#o.runtime.onCommitted((t) => this.#onCommitted(t));
    // Setting a state twice does no harm, so a write an earlier boot left started is simply made again.
    for (const record of this.#o.runtime.list<MirrorRecord>('effects')) {
      if (record?.effect === 'trackerMirror' && record.status === 'started' && record.bootId !== this.#o.runtime.bootId) this.#enqueue(record);
    }
  }

  async stop(): Promise<void> {
    this.#unsubscribe?.();
    this.#unsubscribe = null;
    await Promise.all([...this.#chains.values()]);
  }

  /** The tracker state for a stage: its own, else the nearest configured earlier one; only pipeline stages fall back. */
  stateFor(stage: string): string | null {
    const own = Object.hasOwn(this.#o.states, stage) ? this.#o.states[stage] : undefined;
    if (own) return own;
    const at = this.#order.indexOf(stage);
    for (let i = at - 1; i >= 0; i--) {
      const earlier = this.#o.states[this.#order[i]!];
      if (earlier) return earlier;
    }
    return null;
  }

  #onCommitted(t: CommittedTransition): void {
    const from = t.from.split('.')[0];
    const to = t.to.split('.')[0] ?? t.to;
    if (from === to) return;
    const rt = this.#o.runtime;
    const meta = rt.meta(t.taskId);
    const stateId = this.stateFor(to);
    if (!meta?.trackerIssueId || !stateId) return;
    const issueId = meta.trackerIssueId;
    const projectId = this.#o.projectOf(issueId, meta.repo, meta.trackerProjectId);
    const ctx = rt.contextOf(t.taskId);
    const key = `trackerMirror:${t.taskId}:${to}:e${ctx?.epoch ?? 0}:v${ctx?.stageVisit ?? 0}`;
    const base = { key, taskId: t.taskId, effect: 'trackerMirror' as const, bootId: rt.bootId, startedAt: rt.clock.now(), issueId, projectId: projectId ?? '', stage: to, stateId };
    if (!projectId) {
      this.stats.failed++;
      this.#o.log(`mirror: issue ${issueId} of task ${t.taskId}: its tracker project is unknown; status not mirrored`, { level: 'warn', taskId: t.taskId, stage: to });
      return;
    }
    this.#enqueue({ ...base, status: 'started' });
  }

  /** One task's writes go out in order, so a quick second stage change cannot be overtaken by the first. */
  #enqueue(record: MirrorRecord): void {
    const previous = this.#chains.get(record.taskId) ?? Promise.resolve();
    const next = previous.then(() => this.#apply(record)).catch((e: unknown) => this.#o.log(`mirror: ${record.key}: ${(e as Error).message}`, { level: 'error', taskId: record.taskId, stage: record.stage }));
    this.#chains.set(record.taskId, next);
    void next.then(() => {
      if (this.#chains.get(record.taskId) === next) this.#chains.delete(record.taskId);
    });
  }

  async #apply(record: MirrorRecord): Promise<void> {
    const rt = this.#o.runtime;
    const current = rt.read<MirrorRecord>('effects', record.key);
    if (current?.status === 'completed') return;
    const put = (value: MirrorRecord) => rt.write([{ kind: 'put', collection: 'effects', id: value.key, value }]);
    const started: MirrorRecord = { ...record, status: 'started', bootId: rt.bootId };
    await put(started);
    const res = await this.#o.client.setIssueState(record.projectId, record.issueId, record.stateId);
    const finishedAt = rt.clock.now();
    if (res.ok) {
      this.stats.mirrored++;
      await put({ ...started, status: 'completed', finishedAt, result: { issueId: record.issueId, stateId: record.stateId } });
      return;
    }
    this.stats.failed++;
    this.#o.log(`mirror: issue ${record.issueId} to state ${record.stateId} for ${record.stage} failed: ${res.error}`, { level: 'warn', taskId: record.taskId, stage: record.stage });
    await put({ ...started, status: 'failed', finishedAt, error: res.error, retriable: true });
  }
}
