import { assign } from 'xstate';
import type { TaskContext } from './context.ts';
import { APPROVE, type TaskEvent } from './events.ts';
import { defaultPipeline, type GateName } from './pipeline.ts';
import { clearGateFacts, gateRedReason } from './gates.ts';

type Ctx = { context: TaskContext; event: TaskEvent };
type Assigner<P> = (args: Ctx, params: P) => Partial<TaskContext>;

/** assign() pinned to the task machine's types, so setup() accepts these as its named actions. */
function update<P extends Record<string, unknown> | undefined = undefined>(fn: Assigner<P>) {
  return assign<TaskContext, TaskEvent, P, TaskEvent, never>(fn as never);
}

const backoffMs = (ctx: TaskContext, attempt: number) => ctx.limits.baseBackoffMs * 2 ** Math.max(0, attempt - 2);

/** The named actions of the task machine; all pure assignments over context. */
export const taskActions = {
  enterStage: update(({ context, event }: Ctx, params: { gate: GateName; rollback?: boolean; forward?: boolean }) => ({
    ...clearGateFacts(params.gate, context),
    // A rollback into development asks for a new head: the old one's CI passes nothing.
    staleHead: params.rollback && params.gate === 'ciGreen' ? (context.head?.sha ?? null) : null,
    // Moving on after a green gate: the last failure is behind the task, the next agent starts with no reason.
    ...(params.forward ? { lastFailure: null } : {}),
    stageVisit: context.stageVisit + 1,
    stageEnteredAt: event.at,
    effectAttempt: 1,
    job: null,
    deadline: null,
  })),
  recordHead: update(({ context, event }: Ctx) => {
    if (event.type === 'pr.opened') return { head: { sha: event.sha, pr: event.number, url: event.url }, ci: sameSha(context, event.sha) ? context.ci : {} };
    if (event.type === 'pr.synchronized') return { head: { sha: event.sha, pr: context.head?.pr ?? null, url: context.head?.url }, ci: sameSha(context, event.sha) ? context.ci : {} };
    return {};
  }),
  recordCi: update(({ context, event }: Ctx) => {
    if (event.type !== 'ci.status') return {};
    return { ci: { ...context.ci, [event.context]: { state: event.state, url: event.url, description: event.description } } };
  }),
  recordApproval: update(({ event }: Ctx) => {
    const approved = event.type === 'analysis.approved' || (event.type === 'decision.resolved' && event.option === APPROVE);
    return { approval: approved ? ('approved' as const) : ('rejected' as const) };
  }),
  recordVerdict: update(({ event }: Ctx) =>
    event.type === 'review.verdict' ? { verdict: { sha: event.sha, verdict: event.verdict, comments: event.comments } } : {},
  ),
  recordTests: update(({ event }: Ctx) => (event.type === 'test.result' ? { tests: { sha: event.sha, passed: event.passed, summary: event.summary } } : {})),
  recordDeploy: update(({ context, event }: Ctx) =>
    event.type === 'deploy.status'
      ? { deploys: { ...context.deploys, [event.environment]: { state: event.state, url: event.url, at: event.at } } }
      : {},
  ),
  recordMerged: update(({ event }: Ctx) => (event.type === 'pr.merged' ? { merged: { sha: event.sha, mergeSha: event.mergeSha } } : {})),
  /** A new job for the current attempt; a resumed or retried stage never reuses a job id. */
  queueJob: update(({ context }: Ctx) => ({
    jobSeq: context.jobSeq + 1,
    job: { id: `${context.id}.j${context.jobSeq + 1}`, attempt: context.job?.attempt ?? 1, steered: (context.steering ?? []).length },
    deadline: null,
  })),
  /** Keeps a person's words for the next run; the newest 20, so a flood of comments cannot grow a task without bound. */
  recordSteer: update(({ context, event }: Ctx) =>
    event.type === 'task.steer' ? { steering: [...(context.steering ?? []), { text: event.text, by: event.by, via: event.via, at: event.at }].slice(-20) } : {},
  ),
  /** A run that ended cleanly had the steering it started with: only what came later stays for the next. */
  deliverSteering: update(({ context }: Ctx) => ({ steering: (context.steering ?? []).slice(context.job?.steered ?? 0) })),
  /** Words the running session took: the first waiting steering whose text ends its replay is handed over. */
  steeredInSession: update(({ context, event }: Ctx) => {
    if (event.type !== 'job.steered') return {};
    const steering = context.steering ?? [];
    const from = context.job?.steered ?? 0;
    const i = steering.findIndex((s, k) => k >= from && event.text.endsWith(s.text));
    return i < 0 ? {} : { steering: steering.filter((_, k) => k !== i) };
  }),
  jobStarted: update(({ context, event }: Ctx) => {
    if (event.type !== 'job.started' || !context.job) return {};
    // The agent's own timeout when the runner names it, with a margin: the runner kills first, this is the backstop.
    const timeout = event.timeoutMs ?? context.limits.jobTimeoutMs;
    return { job: { ...context.job, pid: event.pid, startedAt: event.at }, deadline: event.at + timeout + Math.max(1_000, Math.round(timeout / 10)) };
  }),
  /** Counts a failed attempt and arms the backoff timer before the next one. */
  jobFailed: update(({ context, event }: Ctx, params: { stage: string }) => {
    const attempt = (context.job?.attempt ?? 1) + 1;
    return {
      job: context.job ? { id: context.job.id, attempt } : null,
      deadline: event.at + backoffMs(context, attempt),
      lastFailure: { stage: params.stage, reason: failureReason(event), at: event.at, jobId: context.job?.id, sha: context.head?.sha },
    };
  }),
  effectFailed: update(({ context, event }: Ctx, params: { stage: string }) => ({
    effectAttempt: context.effectAttempt + 1,
    deadline: event.at + backoffMs(context, context.effectAttempt + 1),
    lastFailure: { stage: params.stage, reason: failureReason(event), at: event.at },
  })),
  clearDeadline: update(() => ({ deadline: null })),
  /** A fresh attempt of the current effect, under a new idempotency key. */
  nextEffectAttempt: update(({ context }: Ctx) => ({ effectAttempt: context.effectAttempt + 1, deadline: null })),
  /** Each effect of a stage has its own retry budget. */
  effectDone: update(() => ({ deadline: null, effectAttempt: 1 })),
  armGateDeadline: update(({ context, event }: Ctx) => ({ deadline: event.at + context.limits.gateTimeoutMs })),
  /** Bounds a step that reports by itself (preparing, an effect), in case its report never comes. */
  // The first stage is entered by xstate's own init event, which carries no time: the task's creation is its time.
  armStepDeadline: update(({ context, event }: Ctx, params: { step: 'prepare' | 'effect' }) => ({
    deadline: (event.at ?? context.createdAt) + (params.step === 'prepare'
      ? (context.limits.prepareTimeoutMs ?? defaultPipeline.prepareTimeoutMs)
      : (context.limits.effectTimeoutMs ?? defaultPipeline.effectTimeoutMs)),
  })),
  /** A rollback that counts: the reason is the failed effect's own error (a conflict names its files), else the gate's. */
  countRetry: update(({ context, event }: Ctx, params: { stage: string; gate: GateName }) => ({
    retries: context.retries + 1,
    lastFailure: {
      stage: params.stage, at: event.at, sha: context.head?.sha,
      reason: event.type === 'effect.failed' ? failureReason(event) : gateRedReason(params.gate, context),
    },
  })),
  /** Parks the task for a human; the reason is the gate's or the last failure's. */
  escalate: update(({ context, event }: Ctx, params: { stage: string; gate?: GateName; reason?: string }) => {
    const detail = failureReason(event);
    // An effect's failure already says which effect failed: its reason is not prefixed twice.
    const reason = params.gate ? gateRedReason(params.gate, context) : detail.startsWith(params.reason ?? '\0') ? detail : `${params.reason ?? 'escalated'}: ${detail}`;
    const failure = { stage: params.stage, reason, at: event.at, jobId: context.job?.id, sha: context.head?.sha };
    return { escalation: { stage: params.stage, reason }, lastFailure: failure, deadline: null };
  }),
  /** An operator's retry starts the stage over with a fresh budget. */
  clearEscalation: update(() => ({ escalation: null, retries: 0, job: null })),
  recordHold: update(({ event }: Ctx) => ({
    hold: { reason: event.type === 'task.hold' ? event.reason : event.type === 'pr.closed' ? 'the pull request was closed without merging' : 'on hold' },
  })),
  clearHold: update(() => ({ hold: null })),
  recordDependencyDone: update(({ context, event }: Ctx) =>
    event.type === 'dependency.done' && !context.dependenciesDone.includes(event.taskId)
      ? { dependenciesDone: [...context.dependenciesDone, event.taskId] }
      : {},
  ),
};

function sameSha(ctx: TaskContext, sha: string): boolean {
  return ctx.head?.sha === sha;
}

function failureReason(event: TaskEvent): string {
  switch (event.type) {
    case 'job.exited':
      return event.reason ?? `agent exited with code ${event.code}`;
    case 'timer.fired':
      return 'ran past its deadline';
    case 'effect.failed':
      return `${event.effect} failed: ${event.error}`;
    case 'stage.prepare_failed':
      return `preparing the stage failed: ${event.reason}`;
    case 'budget.exceeded':
      return event.reason;
    default:
      // An implementation's throw: its message is the reason.
      return 'error' in event && typeof event.error === 'string' ? event.error : event.type;
  }
}
