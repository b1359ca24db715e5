import type { TaskContext } from './context.ts';
import { INVOKE_FAILED_PREFIX, type Environment, type TaskEvent } from './events.ts';
import type { EffectName, GateName } from './pipeline.ts';
import { evaluateGate } from './gates.ts';

type Ctx = { context: TaskContext; event: TaskEvent };

/** The named guards of the task machine. */
export const taskGuards = {
  /** A CI status counts for the head sha only; only the forge (a pull request event) names a head. */
  ciForHead: ({ context, event }: Ctx) => event.type === 'ci.status' && context.head?.sha === event.sha,
  onHead: ({ context, event }: Ctx) => 'sha' in event && context.head?.sha === event.sha,
  gateGreen: ({ context }: Ctx, params: { gate: GateName }) => evaluateGate(params.gate, context) === 'green',
  gateRed: ({ context }: Ctx, params: { gate: GateName }) => evaluateGate(params.gate, context) === 'red',
  retriesLeft: ({ context }: Ctx) => context.retries + 1 < context.limits.maxRetries,
  attemptsLeft: ({ context }: Ctx) => (context.job?.attempt ?? 1) < context.limits.maxJobAttempts,
  /** A retriable failure of the effect, or a throw of its implementation, with attempts left. */
  effectAttemptsLeft: ({ context, event }: Ctx) =>
    (event.type === 'effect.failed' ? event.retriable : event.type.startsWith(INVOKE_FAILED_PREFIX)) && context.effectAttempt < context.limits.maxJobAttempts,
  jobNotStarted: ({ context }: Ctx) => context.job !== null && context.job.startedAt === undefined,
  currentJob: ({ context, event }: Ctx) => 'jobId' in event && event.jobId === context.job?.id,
  exitedCleanly: ({ event }: Ctx) => event.type === 'job.exited' && event.code === 0,
  /** The agent ended with a question for a person, whatever its exit code. */
  asksQuestion: ({ event }: Ctx) => event.type === 'job.exited' && !!event.question?.text,
  /** The timer of the current state, and only once its deadline has come: a timer that fires early changes nothing. */
  currentDeadline: ({ context, event }: Ctx) =>
    event.type === 'timer.fired' && context.deadline !== null && event.deadline === context.deadline && event.at >= context.deadline,
  isEffect: ({ event }: Ctx, params: { effect: EffectName }) => 'effect' in event && event.effect === params.effect,
  deployTo: ({ event }: Ctx, params: { environment: Environment }) => event.type === 'deploy.status' && event.environment === params.environment,
  refreshes: ({ event }: Ctx, params: { stage: string }) => event.type === 'stage.refresh' && event.stage === params.stage,
  escalatedFrom: ({ context }: Ctx, params: { stage: string }) => context.escalation?.stage === params.stage,
};

/** Guards over decisions: the answer must be to the decision the task is waiting on. */
export const decisionGuards = {
  answers: ({ context, event }: Ctx, params: { option: string }) =>
    event.type === 'decision.resolved' && event.decisionId === context.decision?.id && event.option === params.option,
  /** An answer to the decision the task waits on, with one of its options. */
  resolves: ({ context, event }: Ctx) =>
    event.type === 'decision.resolved' && event.decisionId === context.decision?.id && context.decision.options.includes(event.option),
  recoveringFrom: ({ context }: Ctx, params: { stage: string }) => context.failure?.stage === params.stage,
};
