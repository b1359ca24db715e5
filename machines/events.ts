import type { EffectName } from './pipeline.ts';
import type { AgentQuestion } from './context.ts';

export type CiState = 'pending' | 'success' | 'failure' | 'error';
export type Verdict = 'approved' | 'changes_requested';
export type Environment = 'staging' | 'production';

/** Every event carries the time the runtime stamped on it: machines read no clock. */
interface Stamped {
  at: number;
}

/** Facts the outside world reports; gates are evaluated over them. */
export type FactEvent = Stamped &
  (
    | { type: 'analysis.approved'; by?: string }
    | { type: 'analysis.rejected'; by?: string; reason?: string }
    | { type: 'pr.opened'; number: number; sha: string; url?: string }
    | { type: 'pr.synchronized'; sha: string }
    | { type: 'pr.merged'; sha: string; mergeSha?: string }
    | { type: 'pr.closed' }
    | { type: 'ci.status'; sha: string; state: CiState; context: string; url?: string; description?: string }
    | { type: 'review.verdict'; sha: string; verdict: Verdict; comments?: string }
    | { type: 'test.result'; sha: string; passed: boolean; summary?: string }
    | { type: 'deploy.status'; environment: Environment; state: 'success' | 'failure'; url?: string }
    | { type: 'dependency.done'; taskId: string }
  );

/** What an operator (API, console, tracker Blocked/Cancelled) asks of a task. */
export type OperatorEvent = Stamped &
  (
    | { type: 'task.hold'; reason: string }
    | { type: 'task.resume' }
    | { type: 'task.cancel'; reason: string }
    | { type: 'task.retry' }
    /** A person's words to the agent (a comment addressed to conveyor): handed to the stage's next run. */
    | { type: 'task.steer'; text: string; by?: string; via?: string }
    /** Re-sync the stage's worktree with its remote, in the task's own turn (taken at the stage's gate only). */
    | { type: 'stage.refresh'; stage: string }
  );

/** What preparing a worktree did to it, when it was usable afterwards. */
export type PreparedOutcome = 'created' | 'in_sync' | 'fast_forwarded' | 'rebased';

/** What the task's own invoked actors report back. */
export type WorkEvent = Stamped &
  (
    /** The worktree is ready; `outcome` says what its sync did (`created` when it was just made). */
    | { type: 'stage.prepared'; outcome?: PreparedOutcome }
    | { type: 'stage.prepare_failed'; reason: string }
    | { type: 'job.started'; jobId: string; pid?: number; timeoutMs?: number }
    /** `question`: the agent ended asking a person something (its activity says so); a decision asks it. */
    | { type: 'job.exited'; jobId: string; code: number | null; reason?: string; question?: AgentQuestion }
    | { type: 'effect.done'; effect: EffectName; result?: unknown }
    | { type: 'effect.failed'; effect: EffectName; error: string; retriable: boolean }
    /** An effect an earlier boot started whose outcome the outside world cannot tell: a human decides. */
    | { type: 'effect.unknown'; effect: EffectName; key: string; reason: string }
    | { type: 'timer.fired'; deadline: number }
    /** The stage-boundary sync diverged and recovered by hard reset: local work is pinned under backupRef. */
    | { type: 'stage.sync_reset'; backupRef: string; discardedShas: string[]; from: string; to: string }
    /** The sync diverged and both rebase and reset failed: the worktree is still divergent. */
    | { type: 'stage.sync_failed'; backupRef: string; discardedShas: string[]; error: string }
    /** The running session took words given to it while it ran (it replayed them as `text`): they are not kept for the next run. */
    | { type: 'job.steered'; jobId: string; text: string }
    /** The task's agents spent past its budget: the stage stops and a human decides (raise it, retry or cancel). */
    | { type: 'budget.exceeded'; reason: string }
  );

/**
 * An invoked implementation threw or rejected. The runtime reports it as XState's own error event of
 * that invoke (so the chart's `onError` routes it), through the task's mailbox like any other event.
 */
export type InvokeFailedEvent = Stamped & { type: `xstate.error.actor.${string}`; error: string };

/** The prefix of every InvokeFailedEvent's type. */
export const INVOKE_FAILED_PREFIX = 'xstate.error.actor.';

/** A human's answer to a decision the task opened. */
/** `answer`: the words of a free reply to an agent's question. */
export type DecisionEvent = Stamped & { type: 'decision.resolved'; decisionId: string; contextKey: string; option: string; by?: string; answer?: string };

/** Every event the task machine understands. */
export type TaskEvent = FactEvent | OperatorEvent | WorkEvent | InvokeFailedEvent | DecisionEvent;

export type TaskEventType = TaskEvent['type'];

/** Event types only conveyor's own actors may send; the API and webhooks cannot forge them. */
export const internalEventTypes: ReadonlySet<string> = new Set<TaskEventType>([
  'stage.prepared',
  'stage.prepare_failed',
  'job.started',
  'job.exited',
  'effect.done',
  'effect.failed',
  'effect.unknown',
  'timer.fired',
  'stage.sync_reset',
  'stage.sync_failed',
  'decision.resolved',
  'budget.exceeded',
  'job.steered',
]);

/** What the task machine emits for the runtime to record in the same commit as the transition. */
export type TaskEmitted =
  | { type: 'decision.requested'; decisionId: string; contextKey: string; question: string; options: string[]; data?: Record<string, unknown> }
  | { type: 'decision.withdrawn'; decisionId: string }
  | { type: 'task.failed'; stage: string; reason: string; data?: Record<string, unknown> }
  /** A human settled an effect of unknown outcome: its journal record is closed accordingly. */
  | { type: 'effect.settled'; key: string; outcome: 'happened' | 'not_happened'; by?: string };

export const APPROVE = 'Approve';
export const REJECT = 'Reject';
export const CONTINUE_AFTER_RESET = 'Continue with post-reset state';
export const ABORT = 'Abort';
export const EFFECT_HAPPENED = 'It happened: continue';
export const EFFECT_RUN_AGAIN = 'It did not happen: run it again';
/** The option of an agent's question that answers in the person's own words. */
export const REPLY = 'Reply';
/** The context key of the decision that asks an agent's question. */
export const AGENT_QUESTION = 'agent_question';
