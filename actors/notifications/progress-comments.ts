import type { ActivityBatch, ActivityFeed } from '../agents/index.ts';
import type { TrackerClient } from '../background/tracker-client.ts';
import type { Clock } from '../clock.ts';
import type { ForgeClient } from '../effects/index.ts';
import type { LogLine } from '../log.ts';
import type { Runtime } from '../runtime.ts';
import type { CommittedTransition } from '../types.ts';
import type { JobRecord } from '../work/job-record.ts';
import { activityLine, progressHtml, progressMarkdown, type Progress } from './progress-text.ts';

/** The comment conveyor keeps up to date for one stage of a task on its issue, or for a task on its pull request ('meta'). */
export interface ProgressCommentRecord {
  kind: 'progressComment';
  key: string;
  taskId: string;
  commentId: string;
}

export interface ProgressCommentsOptions {
  runtime: Runtime;
  clock: Clock;
  /** The tracker, and the project an issue lives in; without it no issue comments. */
  tracker?: { client: TrackerClient; projectOf(issueId: string, repo: string, recorded?: string): string | undefined } | null;
  /** The forge; pull requests of repositories it has are commented on. */
  forge?: ForgeClient | null;
  activity?: ActivityFeed | null;
  /** The least time between two writes of one comment; changes meanwhile are folded into the next. */
  minIntervalMs?: number;
  log: LogLine;
}

interface Slot {
  key: string;
  taskId: string;
  write: (body: Progress, commentId: string | null) => Promise<{ ok: true; id: string } | { ok: false; error: string }>;
  commentId: string | null;
  pending: Progress | null;
  /** What the comment says now, without its time: an equal change is not written. */
  shown: string;
  lastAt: number;
  timer: unknown;
  running: Promise<void> | null;
  failures: number;
}

const MAX_FAILURES = 3;
const recordId = (key: string) => `progress-comment:${key}`;

/**
 * Keeps one progress comment per stage on a task's tracker issue, and one on its pull request, edited in place as
 * the task moves and its agent works: at most one write per comment per interval, after the commit, off the
 * task's path (a failure is logged, retried a few times, and never holds the task up).
 */
export class ProgressComments {
  readonly #o: ProgressCommentsOptions;
  readonly #slots = new Map<string, Slot>();
  readonly #lastStage = new Map<string, string>();
  readonly #unsubscribe: (() => void)[] = [];
  readonly stats = { written: 0, failed: 0 };

  constructor(o: ProgressCommentsOptions) {
    this.#o = o;
  }

  /** Comment ids conveyor made: the steering intake skips them. */
  ownCommentIds(): Set<string> {
    return new Set(this.#o.runtime.list<ProgressCommentRecord>('meta').filter((r) => r?.kind === 'progressComment').map((r) => r.commentId));
  }

  start(): void {
    if (this.#unsubscribe.length > 0) return;
    this.#unsubscribe.push(this.#o.runtime.onCommitted((t) => this.#onCommitted(t)));
    if (this.#o.activity) this.#unsubscribe.push(this.#o.activity.follow((b) => this.#onActivity(b)));
  }

  async stop(): Promise<void> {
    for (const off of this.#unsubscribe.splice(0)) off();
    for (const slot of this.#slots.values()) {
      if (slot.timer !== null) this.#o.clock.clearTimeout(slot.timer);
      slot.timer = null;
    }
    await Promise.all([...this.#slots.values()].map((s) => s.running));
  }

  #onCommitted(t: CommittedTransition): void {
    // On hold, escalated, done or cancelled, a task is still news for the stage it was in.
    const stages = this.#o.runtime.pipeline.stages.map((s) => s.id);
    const stage = [t.to, t.from].map((path) => path.split('.')[0] ?? '').find((s) => stages.includes(s)) ?? this.#lastStage.get(t.taskId);
    if (!stage) return;
    if (t.to === 'done' || t.to === 'cancelled') this.#lastStage.delete(t.taskId);
    else this.#lastStage.set(t.taskId, stage);
    this.#changed(t.taskId, stage, `${t.event.type}: ${t.from || 'new'} → ${t.to}`);
  }

  #onActivity(b: ActivityBatch): void {
    const line = b.records.map(activityLine).filter((l) => l !== null).pop();
    if (line) this.#changed(b.taskId, b.stage, line);
  }

  #changed(taskId: string, stage: string, latest: string): void {
    const rt = this.#o.runtime;
    const meta = rt.meta(taskId);
    const ctx = rt.contextOf(taskId);
    if (!meta || !ctx) return;
    const job = ctx.job ? { id: ctx.job.id, attempt: ctx.job.attempt, status: rt.read<JobRecord>('jobs', ctx.job.id)?.status ?? 'requested' } : null;
    const progress: Progress = { stage, state: rt.describe(taskId), job, latest, at: rt.clock.now() };
    const tracker = this.#o.tracker;
    const issueId = meta.trackerIssueId;
    if (tracker && issueId) {
      const projectId = tracker.projectOf(issueId, meta.repo, meta.trackerProjectId);
      if (projectId) {
        this.#schedule(`tracker:${taskId}:${stage}`, taskId, progress, async (p, id) => {
          const html = progressHtml(p);
          const res = id ? await tracker.client.updateComment(projectId, issueId, id, html) : await tracker.client.createComment(projectId, issueId, html);
          return res.ok ? { ok: true, id: id ?? (res.value as string) } : res;
        });
      }
    }
    const forge = this.#o.forge;
    const pr = ctx.head?.pr;
    if (forge?.has(meta.repo) && typeof pr === 'number') {
      this.#schedule(`forge:${taskId}:${pr}`, taskId, progress, async (p, id) => {
        const body = progressMarkdown(p);
        const res = id ? await forge.updateComment(meta.repo, Number(id), body) : await forge.createComment(meta.repo, pr, body);
        return res.ok ? { ok: true, id: id ?? String(res.value) } : { ok: false, error: res.failure.message };
      });
    }
  }

  #schedule(key: string, taskId: string, progress: Progress, write: Slot['write']): void {
    let slot = this.#slots.get(key);
    if (!slot) {
      const kept = this.#o.runtime.read<ProgressCommentRecord>('meta', recordId(key));
      slot = { key, taskId, write, commentId: kept?.commentId ?? null, pending: null, shown: '', lastAt: -Infinity, timer: null, running: null, failures: 0 };
      this.#slots.set(key, slot);
    }
    slot.pending = progress;
    this.#arm(slot);
  }

  #arm(slot: Slot): void {
    if (slot.running || slot.timer !== null || !slot.pending) return;
    const wait = slot.lastAt + (this.#o.minIntervalMs ?? 15_000) - this.#o.clock.now();
    if (wait <= 0) return void this.#flush(slot);
    slot.timer = this.#o.clock.setTimeout(() => {
      slot.timer = null;
      this.#flush(slot);
    }, wait);
  }

  #flush(slot: Slot): void {
    const progress = slot.pending;
    slot.pending = null;
    if (!progress) return;
    const shown = JSON.stringify({ ...progress, at: 0 });
    if (shown === slot.shown) return;
    slot.running = (async () => {
      const res = await slot.write(progress, slot.commentId).catch((e: unknown) => ({ ok: false as const, error: (e as Error).message }));
      slot.lastAt = this.#o.clock.now();
      if (res.ok) {
        slot.failures = 0;
        slot.shown = shown;
        this.stats.written++;
        if (slot.commentId !== res.id) {
          slot.commentId = res.id;
          const record: ProgressCommentRecord = { kind: 'progressComment', key: slot.key, taskId: slot.taskId, commentId: res.id };
          await this.#o.runtime.write([{ kind: 'put', collection: 'meta', id: recordId(slot.key), value: record }]);
        }
        return;
      }
      this.stats.failed++;
      this.#o.log(`notify: progress comment ${slot.key} not written: ${res.error}`, { level: 'warn', taskId: slot.taskId });
      // A failed write is tried again with the next change, or on its own a few times.
      if (++slot.failures < MAX_FAILURES) slot.pending ??= progress;
    })()
      .catch((e: unknown) => this.#o.log(`notify: progress comment ${slot.key}: ${(e as Error).message}`, { level: 'error', taskId: slot.taskId }))
      .finally(() => {
        slot.running = null;
        this.#arm(slot);
      });
  }
}
