import { dirname } from 'node:path';
import { fromCallback } from 'xstate';
import type { AgentInput } from '../../machines/index.ts';
import type { FileSystem } from '../../store/index.ts';
import { exitFilePath, isAlive, readExitFile, reattach, type Executor, type JobExit, type RunningJob } from '../executors/index.ts';
import type { Scheduler, SlotRequest } from '../scheduler.ts';
import type { RuntimeHandle } from '../types.ts';
import { finishedStatuses, type JobRecord } from './job-record.ts';
import { jobOutcome } from './job-outcome.ts';
import type { JobTokens } from './job-tokens.ts';
import type { Finalizers } from '../background/finalizers.ts';
import { activityPathFor, buildPrompt, inboxPathFor, type ActivityFeed, type ActivityRecord, type ActivityState, type AgentKind } from '../agents/index.ts';
import { JobActivity } from './job-activity.ts';
import { tellSession, type RunningInput } from './session-input.ts';
import { spendOf } from './spend.ts';

export interface AgentWorkOptions {
  rt: RuntimeHandle;
  scheduler: Scheduler;
  /** Slot grants are routed back to the job that asked. */
  launches: Map<string, () => void>;
  /** Jobs this boot has spawned and not yet finished: a task revived in the same boot watches its job again. */
  live: Map<string, RunningJob>;
  tokens: JobTokens;
  /** Where a finalization in flight is registered, so the reaper defers to it (SPEC R23, tier 2). */
  finalizers: Finalizers;
  /** The executor of an agent; null runs nothing and succeeds (no agent configured). */
  executorFor(agent: string): Executor | null;
  timeoutFor(agent: string): number;
  envFor(agent: string): Record<string, string>;
  workdirFor(taskId: string): string;
  logPathFor(jobId: string): string;
  apiBase(): string;
  /** Where reason files are written and logs read. */
  fs: FileSystem;
  /** The CLI kind of an agent, whose output becomes the job's activity; null for a plain command. */
  kindFor(agent: string): AgentKind | null;
  /** Where new activity is told as it is recorded. */
  activity: ActivityFeed;
  /** What a task may spend on its agents, in US dollars as the CLIs report it; null for no limit. */
  taskBudgetUsd: number | null;
  /** Running sessions that read input, by task: where words for them are written (the Workbench does, on task.steer). */
  inputs: Map<string, RunningInput>;
  /** A task spent past its budget: a human is told and the task escalated. */
  budgetExceeded(taskId: string, reason: string): Promise<void>;
}

/** Why the task may not spend more, or null while it is within its budget. */
function overBudget(rt: RuntimeHandle, taskId: string, budget: number | null): string | null {
  if (budget === null) return null;
  const spent = spendOf(rt.list<JobRecord>('jobs').filter((j) => j.taskId === taskId)).total.costUsd ?? 0;
  if (spent <= budget) return null;
  return `budget exceeded: the task's agents spent $${spent.toFixed(4)} of its $${budget.toFixed(2)} budget (limits.taskBudgetUsd); raise it and retry the task to go on`;
}

/** The session a new job of this task, stage and agent resumes: the latest one an earlier job recorded. */
function priorSession(rt: RuntimeHandle, taskId: string, stage: string, agent: string): string | null {
  let latest: JobRecord | null = null;
  for (const j of rt.list<JobRecord>('jobs')) {
    if (j.taskId !== taskId || j.stage !== stage || j.agent !== agent || !j.session) continue;
    if (!latest || j.requestedAt > latest.requestedAt) latest = j;
  }
  return latest?.session ?? null;
}

/**
 * The runAgent actor: asks the scheduler for a slot, runs the stage's agent, records every step of
 * the job durably, and reports job.started / job.exited to the task. Stopping it (the task left the
 * stage: hold, cancel, timeout) withdraws the request or kills the agent's process group.
 */
export function runAgentActor(o: AgentWorkOptions) {
  const { rt } = o;
  return fromCallback<{ type: string }, AgentInput>(({ input }) => {
    const job = input.job;
    if (!job) return undefined;
    let stopped = false;
    /** Stopped without the task leaving the stage: the rebuilt invocation owns the job from here. */
    let detached = false;
    let running: RunningJob | null = null;
    const put = (record: JobRecord) => rt.write([{ kind: 'put', collection: 'jobs', id: record.id, value: record }]);
    const request: SlotRequest = { jobId: job.id, taskId: input.taskId, repo: input.repo, stage: input.stage, requestedAt: rt.clock.now() };
    const base: JobRecord = {
      id: job.id, taskId: input.taskId, stage: input.stage, agent: input.agent, repo: input.repo, attempt: job.attempt,
      status: 'queued', requestedAt: request.requestedAt, bootId: rt.bootId, logPath: o.logPathFor(job.id),
    };
    let record = base;

    let activity: JobActivity | null = null;
    let budgetTold = false;
    /** The prompt this boot started the job with: its replay is not steering. */
    let prompt: string | undefined;
    const acceptInput = (kind: AgentKind | null): RunningInput | null => {
      if (!kind?.input) return null;
      const running = { jobId: job.id, inbox: inboxPathFor(record.logPath), kind };
      o.inputs.set(input.taskId, running);
      return running;
    };
    const refuseInput = () => {
      if (o.inputs.get(input.taskId)?.jobId === job.id) o.inputs.delete(input.taskId);
    };
    const checkBudget = async () => {
      const reason = budgetTold ? null : overBudget(rt, input.taskId, o.taskBudgetUsd);
      if (!reason) return false;
      budgetTold = true;
      // Escalating the task stops this job (the task leaves the stage); a retry starts a new one.
      await o.budgetExceeded(input.taskId, reason);
      return true;
    };
    const recordActivity = async (records: ActivityRecord[], state: Readonly<ActivityState>) => {
      record = withActivity(record, state);
      o.activity.publish({ jobId: job.id, taskId: input.taskId, stage: input.stage, records });
      await put(record);
      // Words the running session replays were taken by it: the task need not keep them for a later run.
      for (const r of records) {
        if (r.kind === 'input' && r.text && r.text !== prompt) await rt.send(input.taskId, { type: 'job.steered', jobId: job.id, text: r.text }, { source: 'job' });
      }
      if (records.some((r) => r.kind === 'usage')) await checkBudget();
    };
    const followActivity = async (fresh: boolean) => {
      const kind = input.agent === null ? null : o.kindFor(input.agent);
      if (!kind) return null;
      // A job started afresh owns no activity yet, whatever an earlier start of it left behind.
      if (fresh) {
        await o.fs.mkdirp(dirname(record.logPath));
        await o.fs.writeFile(activityPathFor(record.logPath), '');
      }
      activity = await JobActivity.open({ logPath: record.logPath, kind, fs: o.fs, now: () => rt.clock.now(), onRecords: recordActivity });
      return activity;
    };

    /**
     * One fact, recorded once: whether the job's end is on record already, by someone else (the reaper, past the
     * ceiling or finding the request lost). Such an end is never rewritten, nor told again.
     */
    const endedOnRecord = () => {
      const stored = rt.read<JobRecord>('jobs', job.id);
      return stored !== undefined && finishedStatuses.has(stored.status);
    };

    /** Records the job's end and tells the task; `cleared` settles once nothing of its process group is left. */
    const finish = async (exit: JobExit, cleared?: Promise<void>) => {
      if (detached) return;
      refuseInput();
      const followed = activity ?? (await followActivity(false).catch(() => null));
      if (followed) record = withActivity(record, await followed.finish());
      o.live.delete(job.id);
      // The slot is taken until the job's whole group is gone, not only its agent: a helper in its grace still runs.
      void (cleared ?? Promise.resolve()).then(() => o.scheduler.release(job.id));
      o.tokens.revoke(job.id);
      if (endedOnRecord()) return;
      const { code, reason, status } = jobOutcome(exit);
      record = { ...record, status: stopped ? 'killed' : status, finishedAt: exit.finishedAt, exitCode: code, signal: exit.kind === 'exited' ? exit.signal : null, reason };
      await put(record);
      if (stopped || (await checkBudget())) return;
      // An agent that ended asking a person something waits for the answer instead of a gate or a retry.
      const question = record.question;
      await rt.send(input.taskId, { type: 'job.exited', jobId: job.id, code, reason, ...(question ? { question } : {}) }, { source: 'job' });
    };

    const watch = (r: RunningJob) => {
      running = r;
      (activity as JobActivity | null)?.follow();
      // Watched from now until its exit is recorded and told: the reaper defers to this watcher, whatever its graces.
      const release = o.finalizers.begin(job.id);
      void r.exit
        .then((exit) => o.finalizers.track(job.id, () => finish(exit, r.cleared)))
        .catch(() => undefined)
        .finally(release);
    };

    const launch = async () => {
      o.launches.delete(job.id);
      if (stopped) return o.scheduler.release(job.id);
      const agent = input.agent;
      const executor = agent === null ? null : o.executorFor(agent);
      if (!executor || agent === null) {
        // A stage declared with no agent: nothing to run, the stage waits on its gate's facts.
        // Recorded and told as one finalization, so the reaper never tells the task of it a second time.
        return o.finalizers.track(job.id, async () => {
          record = { ...record, status: 'exited', startedAt: rt.clock.now(), finishedAt: rt.clock.now(), exitCode: 0 };
          await put(record);
          o.scheduler.release(job.id);
          await rt.send(input.taskId, { type: 'job.started', jobId: job.id }, { source: 'job' });
          await rt.send(input.taskId, { type: 'job.exited', jobId: job.id, code: 0 }, { source: 'job' });
        });
      }
      let started: RunningJob | null = null;
      // A task already past its budget starts no agent.
      if (await checkBudget().catch(() => false)) return o.scheduler.release(job.id);
      try {
        const { token, hash } = o.tokens.mint(job.id);
        const reasonFile = await writeReason(o.fs, input, record.logPath, o.logPathFor);
        const kind = o.kindFor(agent);
        const title = rt.meta(input.taskId)?.title ?? '';
        // A CLI kind resumes the session an earlier job of this stage recorded, and is told why it runs (SPEC R35).
        const resumeSession = kind ? priorSession(rt, input.taskId, input.stage, agent) : null;
        prompt = kind ? buildPrompt({ title, stage: input.stage, branch: input.branch, attempt: job.attempt, lastFailure: input.lastFailure, steering: input.steering ?? [] }) : undefined;
        // The job is on record as starting before any process exists (commit before the world changes).
        record = { ...record, status: 'starting', tokenHash: hash, ...(kind ? { kind: kind.name } : {}), ...(resumeSession ? { resumedSession: resumeSession } : {}) };
        await put(record);
        if (stopped) return finish({ kind: 'exited', code: null, signal: null, finishedAt: rt.clock.now() });
        await followActivity(true);
        started = executor.start({
          jobId: job.id, taskId: input.taskId, stage: input.stage, agent, repo: input.repo, branch: input.branch,
          attempt: job.attempt, cwd: o.workdirFor(input.taskId), timeoutMs: o.timeoutFor(agent), apiBase: o.apiBase(), held: true,
          token, logPath: record.logPath, env: { ...o.envFor(agent), CONVEYOR_TITLE: title, ...(reasonFile ? { CONVEYOR_REASON_FILE: reasonFile } : {}) },
          prompt, resumeSession,
        });
        o.live.set(job.id, started);
        const session = acceptInput(kind);
        // Words that came while the job waited for its slot are not in its prompt: they go into the session.
        const waiting = session ? (rt.contextOf(input.taskId)?.steering ?? []).slice(job.steered ?? 0) : [];
        for (const words of waiting) await tellSession(o.fs, session!, words);
        record = { ...record, status: 'running', pid: started.pid, startedAt: started.startedAt };
        await put(record);
        // On record: only now may the agent start (a process of a conveyor that died before this never does).
        started.begin?.();
      } catch (e) {
        return launchFailed(e, started);
      }
      watch(started);
      await rt.send(input.taskId, { type: 'job.started', jobId: job.id, pid: started.pid ?? undefined, timeoutMs: o.timeoutFor(agent) }, { source: 'job' });
    };

    /**
     * A launch that failed before its agent was watched (reason file, job record, spawn bookkeeping): a
     * process already spawned is killed, so no agent runs unwatched; the slot goes back; the attempt
     * fails with the error as its reason.
     */
    const launchFailed = (error: unknown, spawned: RunningJob | null) => o.finalizers.track(job.id, async () => {
      const reason = `agent could not be launched: ${(error as Error)?.message ?? String(error)}`;
      spawned?.kill(reason);
      o.live.delete(job.id);
      o.scheduler.release(job.id);
      o.tokens.revoke(job.id);
      if (endedOnRecord()) return;
      record = { ...record, status: 'failed_to_start', finishedAt: rt.clock.now(), exitCode: null, reason };
      // Best effort: the store may be what failed; the task hears of it either way.
      await put(record).catch(() => undefined);
      if (!stopped) await rt.send(input.taskId, { type: 'job.exited', jobId: job.id, code: null, reason }, { source: 'job' });
    });

    const resume = async (prior: JobRecord) => {
      // Restored after a restart: a finished job reports its recorded exit; a live process is re-attached.
      record = prior;
      // Revived in the boot that runs it (its task's actor was dropped): the same process, watched again.
      const same = o.live.get(job.id);
      if (same) return watch(same);
      if (finishedStatuses.has(prior.status)) {
        if (prior.status !== 'killed') {
          const question = prior.question ? { question: prior.question } : {};
          await rt.send(input.taskId, { type: 'job.exited', jobId: job.id, code: prior.exitCode ?? null, reason: prior.reason, ...question }, { source: 'job' });
        }
        return;
      }
      if (prior.status === 'running' && prior.pid && isAlive(prior.pid, prior.startedAt)) {
        o.scheduler.adopt(request);
        if (prior.tokenHash) o.tokens.adopt(job.id, prior.tokenHash);
        record = { ...prior, bootId: rt.bootId };
        await put(record);
        // The activity log carries on from where the last record says its reading stopped.
        await followActivity(false).catch(() => null);
        acceptInput(prior.agent === null ? null : o.kindFor(prior.agent));
        // Re-attached by the agent's own executor, so its kill grace holds after a restart too.
        const executor = prior.agent === null ? null : o.executorFor(prior.agent);
        const startedAt = prior.startedAt ?? rt.clock.now();
        return watch(executor?.reattach?.(prior.pid, startedAt, undefined, prior.logPath) ?? reattach(prior.pid, startedAt, { exitFile: exitFilePath(prior.logPath) }));
      }
      if (prior.status === 'running' || prior.status === 'orphaned') {
        // The agent finished while conveyor was down: its relay left the exit on disk.
        const recorded = readExitFile(exitFilePath(prior.logPath));
        if (recorded.kind === 'ok') {
          o.scheduler.adopt(request);
          return void (await o.finalizers.track(job.id, () => finish(recorded.exit)));
        }
        // Gone without a recorded exit: the reaper's (and the stage deadline's) business.
        if (prior.status !== 'orphaned') await put({ ...prior, status: 'orphaned', reason: 'process gone after restart, exit not recorded' });
        return;
      }
      // queued or starting: no process ran (or none that we can know of); ask for a slot again.
      record = { ...base, requestedAt: prior.requestedAt };
      queue();
    };

    const queue = () => {
      o.launches.set(job.id, () => void launch().catch(() => undefined));
      o.scheduler.request(request);
    };

    void (async () => {
      await rt.committed(input.taskId);
      if (stopped) return;
      const prior = rt.read<JobRecord>('jobs', job.id);
      if (prior) return resume(prior);
      try {
        await put(record);
      } catch (e) {
        // Not on record, so not queued: the attempt fails now rather than wait for a slot nobody asked for.
        return launchFailed(e, null);
      }
      if (!stopped) queue();
    })().catch(() => undefined);

    return () => {
      stopped = true;
      refuseInput();
      o.launches.delete(job.id);
      (activity as JobActivity | null)?.stop();
      if (o.scheduler.cancel(job.id)) return;
      // Shutting down is not leaving the stage: the agent goes on and is re-attached after the restart.
      if (rt.detached(input.taskId)) {
        detached = true;
        // No process yet (a launch stopped before its spawn): its slot goes back, the revived task asks again.
        if (!o.live.has(job.id)) o.scheduler.release(job.id);
        return;
      }
      (running as RunningJob | null)?.kill('the task left the stage');
    };
  });
}

/** The job record with what its activity log now says: how much, the CLI's session, its spend. */
function withActivity(record: JobRecord, state: Readonly<ActivityState>): JobRecord {
  return {
    ...record,
    activity: { count: state.count, lastAt: state.lastAt },
    ...(state.session ? { session: state.session } : {}),
    ...(state.usage ? { usage: state.usage } : {}),
    ...(state.question ? { question: state.question } : {}),
  };
}

/** Hands a retry or rollback its reason (SPEC R35): what failed, with the previous log's tail. */
async function writeReason(fs: FileSystem, input: AgentInput, logPath: string, logPathFor: (jobId: string) => string): Promise<string | null> {
  const steering = input.steering ?? [];
  if (!input.lastFailure && steering.length === 0) return null;
  const file = `${logPath}.reason.json`;
  const failedJob = input.lastFailure?.jobId;
  const previousLog = failedJob ? await readTail(fs, logPathFor(failedJob), 4096) : null;
  await fs.mkdirp(dirname(file));
  // `stage` is where the failure happened; the run reading this works in `runStage`.
  // Steering alone names its words as the reason: the run goes again because a person asked.
  const steered = steering.length > 0 ? { steering, ...(input.lastFailure ? {} : { stage: input.stage, reason: `steering: ${steering.map((s) => s.text).join(' / ')}` }) } : {};
  const reason = { ...input.lastFailure, ...steered, runStage: input.stage, attempt: input.job?.attempt, previousLog };
  await fs.writeFile(file, JSON.stringify(reason, null, 2));
  return file;
}

/** The last `bytes` of a log as text, or null when there is none. */
async function readTail(fs: FileSystem, path: string, bytes: number): Promise<string | null> {
  try {
    const data = await fs.readFile(path);
    // A cut inside a character shows as U+FFFD at the start; drop it.
    return data.subarray(Math.max(0, data.length - bytes)).toString('utf8').replace(/^\uFFFD+/, '');
  } catch {
    return null;
  }
}
