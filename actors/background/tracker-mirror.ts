import { KeyedSerial } from '../keyed-serial.ts';
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

/** The state conveyor last wrote to an issue, in the 'meta' collection. */
interface WrittenState {
  kind: 'trackerState';
  issueId: string;
  stateId: string;
  at: number;
}

const writtenId = (issueId: string) => `tracker-state:${issueId}`;

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
 * configured earlier stage), as a journaled effect keyed by task, stage, visit and revision, and only when that state differs
 * from the one last written to the issue (the journal remembers it across restarts). It runs after the stage
 * change is committed and never holds the task up: a failure is journaled and logged.
 */
export class TrackerMirror {
  readonly #o: TrackerMirrorOptions;
  readonly #order: string[];
  /** One task's writes go out in order, so a quick second stage change cannot be overtaken by the first. */
  readonly #turns = new KeyedSerial();
  /** issue id → the state last written to it (kept in 'meta'): several stages share a state, and one write is enough. */
  readonly #written = new Map<string, string>();
  #unsubscribe: (() => void) | null = null;
  readonly stats = { mirrored: 0, failed: 0, unchanged: 0 };

  constructor(opts: TrackerMirrorOptions) {
    this.#o = opts;
    this.#order = [...opts.runtime.pipeline.stages.map((s) => s.id), 'done'];
  }

  start(): void {
    if (this.#unsubscribe) return;
    this.#unsubscribe = this.#o.runtime.onCommitted((t) => this.#onCommitted(t));
    for (const r of this.#o.runtime.list<WrittenState>('meta')) if (r?.kind === 'trackerState') this.#written.set(r.issueId, r.stateId);
    // Setting a state twice does no harm, so a write an earlier boot left started is simply made again.
    for (const record of this.#o.runtime.list<MirrorRecord>('effects')) {
      if (record?.effect === 'trackerMirror' && record.status === 'started' && record.bootId !== this.#o.runtime.bootId) this.#enqueue(record);
    }
  }

  async stop(): Promise<void> {
    this.#unsubscribe?.();
    this.#unsubscribe = null;
    await this.#turns.drained();
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
    if (!meta?.trackerIssueId) return;
    const issueId = meta.trackerIssueId;
    if (!stateId) {
      // On hold, escalated or cancelled, a human may set the issue's state by hand: the next write goes out whatever was last written.
      this.#enqueueWork(t.taskId, () => this.#forget(issueId));
      return;
    }
    const projectId = this.#o.projectOf(issueId, meta.repo, meta.trackerProjectId);
    const ctx = rt.contextOf(t.taskId);
    // The revision tells a return to the same visit (a resume after a hold) from the visit's first entry.
    const key = `trackerMirror:${t.taskId}:${to}:e${ctx?.epoch ?? 0}:v${ctx?.stageVisit ?? 0}:r${rt.rev(t.taskId) ?? 0}`;
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
    this.#enqueueWork(record.taskId, () => this.#apply(record), `${record.key}: `, record.stage);
  }

  #enqueueWork(taskId: string, work: () => Promise<void>, what = '', stage?: string): void {
    this.#turns.run(taskId, work).catch((e: unknown) => this.#o.log(`mirror: ${what}${(e as Error).message}`, { level: 'error', taskId, stage }));
  }

  async #forget(issueId: string): Promise<void> {
    if (!this.#written.has(issueId)) return;
    await this.#o.runtime.write([{ kind: 'delete', collection: 'meta', id: writtenId(issueId) }]);
    this.#written.delete(issueId);
  }

  async #apply(record: MirrorRecord): Promise<void> {
    const rt = this.#o.runtime;
    const current = rt.read<MirrorRecord>('effects', record.key);
    if (current?.status === 'completed') return;
    const put = (value: MirrorRecord) => rt.write([{ kind: 'put', collection: 'effects', id: value.key, value }]);
    if (this.#written.get(record.issueId) === record.stateId) {
      // The issue already shows this state: spend no call (and no journal record) on writing it again.
      this.stats.unchanged++;
      if (current) await put({ ...current, status: 'completed', finishedAt: rt.clock.now(), result: { issueId: record.issueId, stateId: record.stateId } });
      return;
    }
    const started: MirrorRecord = { ...record, status: 'started', bootId: rt.bootId };
    await put(started);
    const res = await this.#o.client.setIssueState(record.projectId, record.issueId, record.stateId);
    const finishedAt = rt.clock.now();
    if (res.ok) {
      this.stats.mirrored++;
      const completed: MirrorRecord = { ...started, status: 'completed', finishedAt, result: { issueId: record.issueId, stateId: record.stateId } };
      const written: WrittenState = { kind: 'trackerState', issueId: record.issueId, stateId: record.stateId, at: finishedAt };
      await rt.write([{ kind: 'put', collection: 'effects', id: completed.key, value: completed }, { kind: 'put', collection: 'meta', id: writtenId(record.issueId), value: written }]);
      this.#written.set(record.issueId, record.stateId);
      return;
    }
    this.stats.failed++;
    this.#o.log(`mirror: issue ${record.issueId} to state ${record.stateId} for ${record.stage} failed: ${res.error}`, { level: 'warn', taskId: record.taskId, stage: record.stage });
    await put({ ...started, status: 'failed', finishedAt, error: res.error, retriable: true });
  }
}
