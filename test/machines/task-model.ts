import { TestModel } from '@xstate/graph';
import type { ActorLogic, AnyStateMachine, SnapshotFrom } from 'xstate';
import {
  ABORT, APPROVE, compileTaskMachine, REPLY, CONTINUE_AFTER_RESET, defaultPipeline, describeState, EFFECT_HAPPENED, EFFECT_RUN_AGAIN, INVOKE_FAILED_PREFIX, REJECT,
  type EffectName, type PipelineDefinition, type TaskContext, type TaskEvent, type TaskInput, type TaskMachine,
} from '../../machines/index.ts';
import { position, serializeTaskState, type SnapshotLike } from './task-model-state.ts';

/** The default pipeline with budgets small enough that the model's state space stays finite and small. */
export const modelPipeline: PipelineDefinition = { ...defaultPipeline, maxRetries: 2, maxJobAttempts: 2 };

/** The one instant every event happens at, in the model and on the runtime's clock alike. */
export const MODEL_NOW = 1_700_000_000_000;

export const SHA_OPENED = 'a1a1a1a';
/** Shas a push may move the head to; three, so one is always neither the head nor the stale head. */
export const SHAS = [SHA_OPENED, 'b2b2b2b', 'c3c3c3c'] as const;
/** A sha that is never the head: facts about it are stale. */
export const SHA_STALE = 'dead000';
export const STALE_JOB = 'stale.j0';
export const STALE_DEADLINE = 1;
export const STALE_DECISION = 'stale.d0';

/** The chart under test; typed loosely because its emitted events narrow what xstate's generic helpers accept. */
export const modelMachine = compileTaskMachine() as unknown as AnyStateMachine;
export type TaskSnapshot = SnapshotFrom<TaskMachine>;

export const modelInput: TaskInput = {
  id: 'model',
  repo: 'acme/web',
  branch: 'conveyor/model',
  createdAt: MODEL_NOW,
  limits: {
    maxRetries: modelPipeline.maxRetries,
    maxJobAttempts: modelPipeline.maxJobAttempts,
    jobTimeoutMs: modelPipeline.jobTimeoutMs,
    baseBackoffMs: modelPipeline.baseBackoffMs,
    gateTimeoutMs: modelPipeline.gateTimeoutMs,
  },
};

const effects: EffectName[] = modelPipeline.stages.flatMap((stage) => stage.effects);
/** A failure of the job or an effect is retried (its budget matters), so it is sampled wherever it runs. */
const retriedInvokes = new Set<string>(['job', ...effects]);

/** A sha the task has not seen as its head or its stale head: where a push moves the head. */
export function freshSha(ctx: TaskContext): string {
  return SHAS.find((sha) => sha !== ctx.head?.sha && sha !== ctx.staleHead)!;
}

/**
 * Sample events of every type for a snapshot, with payloads that pass each guard (the head sha, the
 * current job, decision and deadline) and payloads that fail it (a stale sha, job, decision or deadline).
 *
 * To keep the state space small: a fact that passes a gate is sampled where that gate reads it, and a
 * push in development only (no pull request exists in analysis). Events whose acceptance changes nothing
 * a guard reads here, hold, cancel and a diverged sync are sampled once per state of the chart, in the
 * first model state that reaches it (`disturb`).
 */
export function sampleEvents(snapshot: TaskSnapshot, disturb: boolean): TaskEvent[] {
  const at = MODEL_NOW;
  const ctx = snapshot.context;
  const head = ctx.head?.sha ?? SHA_OPENED;
  const where = position(snapshot as unknown as SnapshotLike);
  const stage = where.split('.')[0] ?? '';
  const gating = where.endsWith('.gating');
  const out: TaskEvent[] = [
    { type: 'pr.merged', at, sha: SHA_STALE },
    { type: 'pr.closed', at },
    { type: 'task.resume', at },
    { type: 'task.retry', at },
    { type: 'stage.prepared', at },
    { type: 'stage.prepare_failed', at, reason: 'worktree diverged' },
    { type: 'review.verdict', at, sha: SHA_STALE, verdict: 'approved' },
    { type: 'test.result', at, sha: SHA_STALE, passed: true },
    { type: 'decision.resolved', at, decisionId: STALE_DECISION, contextKey: 'analysis_approval', option: APPROVE },
  ];
  const sometimes = (relevant: boolean, ...events: TaskEvent[]) => {
    if (relevant || disturb) out.push(...events);
  };
  sometimes(false, { type: 'task.hold', at, reason: 'blocked' }, { type: 'task.cancel', at, reason: 'dropped' });
  // Steering is kept for the stage's next run.
  sometimes(false, { type: 'task.steer', at, text: 'also cover the empty cart', via: 'pull request' });
  // A budget is spent while an agent works, and checked again before the next one starts.
  sometimes(false, { type: 'budget.exceeded', at, reason: 'budget exceeded: the task\'s agents spent $2.0000 of its $1.00 budget' });
  sometimes(false, { type: 'dependency.done', at, taskId: 'upstream' }, { type: 'pr.merged', at, sha: head });
  sometimes(stage === 'analysis', { type: 'analysis.approved', at }, { type: 'analysis.rejected', at, reason: 'not now' });
  if (ctx.decision) {
    const { id, contextKey } = ctx.decision;
    for (const option of [APPROVE, REJECT, CONTINUE_AFTER_RESET, EFFECT_HAPPENED, EFFECT_RUN_AGAIN, ABORT]) out.push({ type: 'decision.resolved', at, decisionId: id, contextKey, option });
    out.push({ type: 'decision.resolved', at, decisionId: id, contextKey, option: REPLY, answer: 'the empty cart too' });
  }
  if (stage !== 'analysis') {
    // A push always moves the head to a new sha; elsewhere the forge repeats what the task knows.
    const pushed = freshSha(ctx);
    sometimes(stage === 'development', { type: 'pr.opened', at, number: 7, sha: head }, { type: 'ci.status', at, sha: head, state: 'success', context: 'build' });
    sometimes(stage === 'development', { type: 'pr.synchronized', at, sha: stage === 'development' ? pushed : head });
  }
  if (stage === 'development') out.push({ type: 'ci.status', at, sha: head, state: 'failure', context: 'build' });
  // With no head yet, a CI status names the head, so a stale one exists only once a head is known.
  if (ctx.head) {
    out.push({ type: 'ci.status', at, sha: SHA_STALE, state: 'success', context: 'build' });
    out.push({ type: 'ci.status', at, sha: SHA_STALE, state: 'failure', context: 'build' });
  }
  // An operator's refresh, of this stage and of another: taken at the gate only.
  sometimes(false, { type: 'stage.refresh', at, stage }, { type: 'stage.refresh', at, stage: 'elsewhere' });
  // The worktree is synced while a stage is prepared or refreshed; that is where a sync can find it diverged.
  if (disturb && (where.endsWith('.preparing') || where.endsWith('.refreshing'))) {
    const sync = { backupRef: 'refs/conveyor/sync-recovery/model/1', discardedShas: ['c3c3c3c'] };
    out.push({ type: 'stage.sync_reset', at, ...sync, from: 'c3c3c3c', to: head });
    out.push({ type: 'stage.sync_failed', at, ...sync, error: 'rebase and reset failed' });
  }
  if (gating) {
    sometimes(stage === 'review', { type: 'review.verdict', at, sha: head, verdict: 'approved' }, { type: 'review.verdict', at, sha: head, verdict: 'changes_requested' });
    sometimes(stage === 'testing', { type: 'test.result', at, sha: head, passed: true }, { type: 'test.result', at, sha: head, passed: false });
    sometimes(stage === 'deploy-staging', { type: 'deploy.status', at, environment: 'staging', state: 'success' }, { type: 'deploy.status', at, environment: 'staging', state: 'failure' });
    sometimes(stage === 'deploy', { type: 'deploy.status', at, environment: 'production', state: 'success' }, { type: 'deploy.status', at, environment: 'production', state: 'failure' });
  } else {
    // Only the environment this stage does not read, which the stage refuses.
    const environment = stage === 'deploy' ? 'staging' : 'production';
    out.push({ type: 'deploy.status', at, environment, state: 'success' }, { type: 'deploy.status', at, environment, state: 'failure' });
  }
  const jobs = [...(ctx.job ? [ctx.job.id] : []), STALE_JOB];
  for (const jobId of jobs) out.push({ type: 'job.started', at, jobId, pid: 4242 });
  for (const jobId of jobs) out.push({ type: 'job.exited', at, jobId, code: 0 });
  if (ctx.job) out.push({ type: 'job.exited', at, jobId: ctx.job.id, code: 1 });
  // The running session replays words it was given.
  for (const jobId of jobs) sometimes(false, { type: 'job.steered', at, jobId, text: 'Pat asks: also cover the empty cart' });
  // An agent that ends with a question: sampled once per chart state, like a hold.
  if (ctx.job) sometimes(false, { type: 'job.exited', at, jobId: ctx.job.id, code: 0, question: { text: 'Which locale?', options: ['en', 'de'] } });
  for (const effect of effects) {
    out.push({ type: 'effect.done', at, effect });
    out.push({ type: 'effect.failed', at, effect, error: 'gateway timeout', retriable: true });
    out.push({ type: 'effect.failed', at, effect, error: 'merge conflict', retriable: false });
    // An unknowable outcome happens only after a restart: sampled once per chart state, like a hold.
    sometimes(false, { type: 'effect.unknown', at, effect, key: `model:${effect}`, reason: 'forge unreachable' });
  }
  // An implementation's throw fails the work invoked now (a retry or a human). Only running invocations
  // fail: XState itself would put the chart in error on any other, which the runtime refuses before.
  const running = Object.keys(snapshot.children);
  for (const id of running.filter((id) => disturb || retriedInvokes.has(id))) {
    out.push({ type: `${INVOKE_FAILED_PREFIX}${id}`, at, error: 'the implementation threw' });
  }
  // A timer fires at its deadline, not before: the task refuses an early one.
  if (ctx.deadline !== null) out.push({ type: 'timer.fired', at: Math.max(at, ctx.deadline), deadline: ctx.deadline });
  out.push({ type: 'timer.fired', at, deadline: STALE_DEADLINE });
  return out;
}

/** Whether the machine takes the event at all (a transition or an action), as the runtime decides it. */
export function accepts(snapshot: TaskSnapshot, event: TaskEvent): boolean {
  return snapshot.status === 'active' && snapshot.can(event);
}

/** The test model of the task machine: sample events per snapshot, states compared by serializeTaskState. */
export function createTaskModel(): TestModel<TaskSnapshot, TaskEvent, TaskInput> {
  // The first model state reached (breadth first) in each state of the chart is the one held and cancelled.
  const disturbed = new Map<string, string>();
  const serializeState = (snapshot: TaskSnapshot) => serializeTaskState(snapshot as unknown as SnapshotLike);
  return new TestModel(modelMachine as unknown as ActorLogic<TaskSnapshot, TaskEvent, TaskInput>, {
    input: modelInput,
    serializeState,
    events: (snapshot: TaskSnapshot) => {
      const state = describeState(snapshot.value);
      const key = serializeState(snapshot);
      if (!disturbed.has(state)) disturbed.set(state, key);
      return sampleEvents(snapshot, disturbed.get(state) === key);
    },
  });
}
