import type { Conveyor } from '../conveyor.ts';
import type { TaskEventInput } from '../types.ts';
import { finishedStatuses, type JobRecord } from '../work/index.ts';
import { SeenOnce, type ConfirmedChange, type ReaperCounters } from './counters.ts';
import type { Finalizers } from './finalizers.ts';
import type { ReaperSettings } from './settings.ts';
import { turnTaker, type ScannedTask, type TaskScan } from './task-scan.ts';
import { UnitErrors } from './unit-errors.ts';
import type { LogLine } from '../log.ts';

export interface ReaperSweepOptions {
  conveyor: Conveyor;
  scan: TaskScan;
  settings: ReaperSettings;
  finalizers: Finalizers;
  counters: ReaperCounters;
  /** Whether the process that ran a job is still there (a reused pid is not). */
  alive(pid: number, startedAt?: number): boolean;
  /** Kills a job's process group and resolves once it is gone. */
  kill(pid: number): Promise<void>;
  /** Whether this boot's scheduler holds the job's request (queued, parked or running); null when there is no scheduler to ask. */
  holds(jobId: string): boolean | null;
  log: LogLine;
  onChange(change: ConfirmedChange): void;
}

type Tier = 1 | 2 | 3;

interface Verdict {
  tier: Tier;
  /** The job record as it is to be stored before the task hears of it; null leaves it as it is. */
  record: JobRecord | null;
  event: Extract<TaskEventInput, { type: 'job.exited' }>;
  kill: boolean;
  why: string;
}

/**
 * The reaper (SPEC R23). Tier 1: a running job whose process is gone without a recorded exit is reported
 * exited (code null), so the task retries or escalates by its attempts. Tier 2: a recorded exit the task
 * has not heard of within the grace is reported again, unless a finalizer is still at work. Tier 3: a job
 * running past the hard ceiling is killed and reported, whatever any liveness says. And the states the chart
 * leaves to the reaper (bound 'reaper': a job waiting in queued) are swept: a request the scheduler lost fails the attempt.
 */
export class ReaperSweep {
  readonly #deadSince = new Map<string, number>();
  readonly #deferred = new SeenOnce();
  readonly #errors: UnitErrors;

  constructor(private readonly o: ReaperSweepOptions) {
    this.#errors = new UnitErrors('reaper', o.log, () => o.counters.errors++);
  }

  async sweep(): Promise<void> {
    const { conveyor, counters } = this.o;
    const now = conveyor.runtime.clock.now();
    counters.ticks++;
    counters.lastTickAt = now;
    const due: { task: ScannedTask; job: JobRecord; verdict: Verdict }[] = [];
    const turn = turnTaker();
    for (const record of conveyor.records()) {
      const pause = turn();
      if (pause) await pause;
      try {
        const task = this.o.scan.read(record);
        if (task.status !== 'active' || !task.tags.has('working') || !task.context.job) continue;
        const job = conveyor.job(task.context.job.id);
        const verdict = job && (this.#judge(job, now) ?? (task.bound === 'reaper' ? this.#unheld(job, now) : null));
        if (verdict) due.push({ task, job, verdict });
      } catch (e) {
        this.#errors.report(`task ${record.id}`, e);
      }
    }
    for (const unit of due) {
      try {
        await this.#reap(unit.task, unit.job, unit.verdict, now);
      } catch (e) {
        this.#errors.report(`job ${unit.job.id}`, e);
      }
    }
  }

  #judge(job: JobRecord, now: number): Verdict | null {
    const s = this.o.settings;
    if (job.status === 'running' && job.startedAt !== undefined && now - job.startedAt > s.hardCeilingMs) {
      const why = `ran ${now - job.startedAt} ms, past the hard ceiling of ${s.hardCeilingMs} ms`;
      return this.#lost(job, 3, 'timed_out', `reaper: ${why}`, now, true);
    }
    if (job.status === 'running' || job.status === 'orphaned') {
      // A job without a pid ran inside conveyor (an in-process executor): alive while this boot is, its exit
      // reported by its own watcher; one of an earlier boot died with it.
      const ofThisBoot = job.bootId === this.o.conveyor.runtime.bootId;
      const gone = job.status === 'orphaned' || (job.pid ? !this.o.alive(job.pid, job.startedAt) : !ofThisBoot);
      if (!gone) {
        this.#deadSince.delete(job.id);
        return null;
      }
      // A job of this boot whose process just ended is being finalized by its own watcher: give it the grace.
      const ours = job.status === 'running' && job.bootId === this.o.conveyor.runtime.bootId;
      const since = this.#deadSince.get(job.id) ?? now;
      this.#deadSince.set(job.id, since);
      if (ours && (now - since < s.lostGraceMs || this.o.finalizers.isAlive(job.id))) return null;
      this.#deadSince.delete(job.id);
      return this.#lost(job, 1, 'lost', 'reaper: the agent process is gone and its exit was never recorded', now, false);
    }
    if (finishedStatuses.has(job.status) && job.status !== 'killed') {
      if (now - (job.finishedAt ?? now) <= s.finalizeGraceMs) return null;
      if (this.o.finalizers.isAlive(job.id)) {
        if (this.#deferred.first(job.id)) this.o.counters.finalizerDefers++;
        return null;
      }
      const reason = job.reason ?? (job.exitCode === 0 ? undefined : `agent exited with code ${job.exitCode ?? 'unknown'}`);
      const why = `finalized exit ${job.exitCode ?? 'unknown'} recorded ${now - (job.finishedAt ?? now)} ms ago`;
      return { tier: 2, record: null, event: { type: 'job.exited', jobId: job.id, code: job.exitCode ?? null, ...(reason ? { reason } : {}) }, kill: false, why };
    }
    return null;
  }

  /**
   * A job on record as waiting for a slot (or starting) that this boot's scheduler does not hold: its request was
   * lost (a report the store refused, a launch that died), so nothing will ever start it. Seen so on two sweeps a
   * grace apart, it is reported lost and the attempt fails; a job the scheduler holds waits as long as slots are busy.
   */
  #unheld(job: JobRecord, now: number): Verdict | null {
    const waiting = job.status === 'queued' || job.status === 'starting';
    if (!waiting || this.o.holds(job.id) !== false) {
      this.#deadSince.delete(job.id);
      return null;
    }
    const since = this.#deadSince.get(job.id);
    if (since === undefined) this.#deadSince.set(job.id, now);
    if (since === undefined || now - since < this.o.settings.lostGraceMs) return null;
    this.#deadSince.delete(job.id);
    return this.#lost(job, 1, 'lost', `reaper: the job never reached a slot: this boot's scheduler holds no request for it (it was ${job.status})`, now, false);
  }

  #lost(job: JobRecord, tier: Tier, status: JobRecord['status'], reason: string, now: number, kill: boolean): Verdict {
    return {
      tier,
      kill,
      why: reason.replace(/^reaper: /, ''),
      record: { ...job, status, finishedAt: now, exitCode: null, reason },
      event: { type: 'job.exited', jobId: job.id, code: null, reason },
    };
  }

  async #reap(task: ScannedTask, job: JobRecord, v: Verdict, now: number): Promise<void> {
    const { conveyor } = this.o;
    if (v.kill && job.pid && this.o.alive(job.pid, job.startedAt)) await this.o.kill(job.pid);
    const from = conveyor.runtime.describe(task.id);
    const outcome = await this.o.finalizers.track(job.id, async () => {
      // The exit is on record before the task hears of it, so a lost send is finished by Tier 2 next time.
      if (v.record) await conveyor.runtime.write([{ kind: 'put', collection: 'jobs', id: job.id, value: v.record }]);
      return conveyor.send(task.id, v.event, { source: 'reaper' });
    });
    if (outcome.status !== 'accepted' || outcome.to === from) return;
    const { counters } = this.o;
    counters.reapedTotal++;
    counters.byTier[v.tier]++;
    this.o.onChange({ taskId: task.id, from, to: outcome.to, at: now, why: `reaper tier ${v.tier}: job ${job.id} ${v.why}` });
  }
}
