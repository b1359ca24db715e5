import type { Conveyor } from '../conveyor.ts';
import type { JobExit } from '../executors/index.ts';
import type { TaskEventInput } from '../types.ts';
import { finishedStatuses, jobOutcome, type JobRecord } from '../work/index.ts';
import { SeenOnce, type ConfirmedChange, type ReaperCounters } from './counters.ts';
import type { Finalizers } from './finalizers.ts';
import type { ReaperSettings } from './settings.ts';
import { sweepTurns, type ScannedTask, type TaskScan } from './task-scan.ts';
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
  /** How the job's agent ended as its relay recorded it on disk, or null where no such record is. */
  recordedExit(job: JobRecord): JobExit | null;
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
 * The reaper (SPEC R23). A job's end is one fact: the relay records the agent's exit on disk the moment it ends,
 * and this boot's watcher of the job records it in the store; the reaper never contradicts either, whatever its
 * graces. Tier 1: a running job whose process is gone, with no exit on disk and no watcher, is reported exited
 * (code null), so the task retries or escalates by its attempts. Tier 2: an exit on record (on disk or in the store)
 * the task has not heard of within the grace is recorded and reported as it is, unless a watcher or finalizer is
 * still at work. Tier 3: a job running past the hard ceiling is killed and reported, whatever any liveness says.
 * And the states the chart leaves to the reaper (bound 'reaper': a job waiting in queued) are swept: a request the
 * scheduler lost fails the attempt.
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
    const turn = sweepTurns();
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
    if (job.status === 'running' || job.status === 'orphaned') return this.#unfinished(job, now);
    if (!finishedStatuses.has(job.status) || job.status === 'killed') return null;
    if (now - (job.finishedAt ?? now) <= this.o.settings.finalizeGraceMs) return null;
    if (this.#defers(job)) return null;
    const reason = job.reason ?? (job.exitCode === 0 ? undefined : `agent exited with code ${job.exitCode ?? 'unknown'}`);
    const why = `finalized exit ${job.exitCode ?? 'unknown'} recorded ${now - (job.finishedAt ?? now)} ms ago`;
    return { tier: 2, record: null, event: { type: 'job.exited', jobId: job.id, code: job.exitCode ?? null, ...(reason ? { reason } : {}), ...asked(job) }, kill: false, why };
  }

  /** A job on record as running (or orphaned by an earlier boot): alive, past its ceiling, ended on disk, or lost. */
  #unfinished(job: JobRecord, now: number): Verdict | null {
    const s = this.o.settings;
    // A job without a pid ran inside conveyor (an in-process executor): alive while this boot is, its exit
    // reported by its own watcher; one of an earlier boot died with it.
    const ofThisBoot = job.bootId === this.o.conveyor.runtime.bootId;
    const gone = job.status === 'orphaned' || (job.pid ? !this.o.alive(job.pid, job.startedAt) : !ofThisBoot);
    const recorded = gone ? this.o.recordedExit(job) : null;
    if (!recorded && job.status === 'running' && job.startedAt !== undefined && now - job.startedAt > s.hardCeilingMs) {
      const why = `ran ${now - job.startedAt} ms, past the hard ceiling of ${s.hardCeilingMs} ms`;
      return this.#lost(job, 3, 'timed_out', `reaper: ${why}`, now, true);
    }
    if (!gone) {
      this.#deadSince.delete(job.id);
      return null;
    }
    // This boot's watcher of the job records its end (it sees the process go, and reads the exit on disk): no grace is
    // short enough to race it. Without a watcher, a job of this boot whose process just ended is given the grace.
    if (this.#defers(job)) return null;
    const since = this.#deadSince.get(job.id) ?? now;
    this.#deadSince.set(job.id, since);
    if (job.status === 'running' && ofThisBoot && now - since < s.lostGraceMs) return null;
    this.#deadSince.delete(job.id);
    if (recorded) return this.#recorded(job, recorded);
    return this.#lost(job, 1, 'lost', 'reaper: the agent process is gone and its exit was never recorded', now, false);
  }

  /** Whether a watcher or finalizer of the job is at work in this boot, counting each job deferred to once. */
  #defers(job: JobRecord): boolean {
    if (!this.o.finalizers.isAlive(job.id)) return false;
    if (this.#deferred.first(job.id)) this.o.counters.finalizerDefers++;
    return true;
  }

  /** The agent's end as its relay recorded it, which nothing in conveyor recorded: stored and told as it is. */
  #recorded(job: JobRecord, exit: JobExit): Verdict {
    const { code, reason, status } = jobOutcome(exit);
    return {
      tier: 2,
      kill: false,
      why: `exit ${code ?? 'unknown'} its relay recorded on disk was never recorded in the store`,
      record: { ...job, status, finishedAt: exit.finishedAt, exitCode: code, signal: exit.kind === 'exited' ? exit.signal : null, reason },
      event: { type: 'job.exited', jobId: job.id, code, ...(reason ? { reason } : {}), ...asked(job) },
    };
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
    const from = conveyor.runtime.describe(task.id);
    // Finalizations of a job take turns, so this one sees whatever the job's own watcher recorded before it.
    const outcome = await this.o.finalizers.track(job.id, async () => {
      // The job's end was recorded meanwhile (its watcher came first), or the task has moved on from the job: that
      // record is the fact, not this verdict.
      if (conveyor.job(job.id)?.status !== job.status || conveyor.task(task.id)?.context.job?.id !== job.id) return null;
      // The end is on record before the kill and before the task hears of it: the watcher, seeing the kill, finds it
      // recorded and says nothing else; a lost send is finished by Tier 2 next time.
      if (v.record) await conveyor.runtime.write([{ kind: 'put', collection: 'jobs', id: job.id, value: v.record }]);
      if (v.kill && job.pid && this.o.alive(job.pid, job.startedAt)) await this.o.kill(job.pid);
      return conveyor.send(task.id, v.event, { source: 'reaper' });
    });
    if (!outcome || outcome.status !== 'accepted' || outcome.to === from) return;
    const { counters } = this.o;
    counters.reapedTotal++;
    counters.byTier[v.tier]++;
    this.o.onChange({ taskId: task.id, from, to: outcome.to, at: now, why: `reaper tier ${v.tier}: job ${job.id} ${v.why}` });
  }
}

/** The question the job's agent ended with, as its activity recorded it: the task asks it rather than go to its gate. */
const asked = (job: JobRecord) => (job.question ? { question: job.question } : {});
