import { enqueueActions } from 'xstate';
import { effectKey, type TaskContext } from './context.ts';
import type { EffectName } from './pipeline.ts';
import { ABORT, AGENT_QUESTION, CONTINUE_AFTER_RESET, EFFECT_HAPPENED, EFFECT_RUN_AGAIN, REPLY, type TaskEmitted, type TaskEvent } from './events.ts';

type Collect<P> = Parameters<typeof enqueueActions<TaskContext, TaskEvent, P, TaskEvent, never, never, never, never, TaskEmitted>>[0];

/** enqueueActions() pinned to the task machine's types, so setup() accepts these as named actions. */
function steps<P extends Record<string, unknown> | undefined = undefined>(collect: Collect<P>) {
  return enqueueActions<TaskContext, TaskEvent, P, TaskEvent, never, never, never, never, TaskEmitted>(collect);
}

/** Named actions that open, withdraw and settle decisions, and enter and leave recovery. */
export const decisionActions = {
  /** Opens a decision; the runtime stores it in the same commit as the transition. */
  openDecision: steps<{ contextKey: string; question: string; options: string[] }>(({ context, enqueue }, params) => {
    const id = `${context.id}.d${context.decisionSeq + 1}`;
    enqueue.assign({ decisionSeq: context.decisionSeq + 1, decision: { id, contextKey: params.contextKey, options: params.options } });
    enqueue.emit({ type: 'decision.requested', decisionId: id, contextKey: params.contextKey, question: params.question, options: params.options });
  }),
  /** The state that asked moved on (another path answered first): the open decision is withdrawn. */
  withdrawDecision: steps(({ context, enqueue }) => {
    if (!context.decision) return;
    enqueue.emit({ type: 'decision.withdrawn', decisionId: context.decision.id });
    enqueue.assign({ decision: null });
  }),
  /** An answer was taken: the decision is closed (the runtime records the resolution). */
  closeDecision: steps(({ enqueue }) => {
    enqueue.assign({ decision: null });
  }),
  /**
   * The worktree was reset (or could not be): in one step the task and its stage are marked failed,
   * task.failed is emitted and the recovery decision is opened (SPEC R28).
   */
  failForRecovery: steps<{ stage: string }>(({ context, event, enqueue }, params) => {
    if (event.type !== 'stage.sync_reset' && event.type !== 'stage.sync_failed') return;
    const resetFailed = event.type === 'stage.sync_failed';
    const reason = resetFailed
      ? `worktree diverged from its remote; rebase and hard reset both failed (${event.error}); it is still divergent`
      : `worktree diverged from its remote and was hard reset to ${event.to}; local work is pinned at ${event.backupRef}`;
    const failure = { stage: params.stage, kind: resetFailed ? ('sync_failed' as const) : ('hard_reset' as const), reason, at: event.at, backupRef: event.backupRef, discardedShas: event.discardedShas };
    const id = `${context.id}.d${context.decisionSeq + 1}`;
    const contextKey = `hard_reset_recovery:${params.stage}`;
    const options = resetFailed ? [ABORT] : [CONTINUE_AFTER_RESET, ABORT];
    const question = resetFailed
      ? `The worktree of stage ${params.stage} is still divergent: rebase and reset both failed. Local work is pinned at ${event.backupRef}. Abort the task?`
      : `Stage ${params.stage} was hard reset to the remote; ${event.discardedShas.length} local commit(s) were discarded and pinned at ${event.backupRef}. Continue with the post-reset state, or abort?`;
    const data = { backupRef: event.backupRef, discardedShas: event.discardedShas };
    enqueue.assign({ failure, decisionSeq: context.decisionSeq + 1, decision: { id, contextKey, options }, job: null, deadline: null });
    enqueue.emit({ type: 'task.failed', stage: params.stage, reason, data });
    enqueue.emit({ type: 'decision.requested', decisionId: id, contextKey, question, options, data });
  }),
  /** An effect's outcome is unknown after a restart: ask whether it happened rather than guess (SPEC R16). */
  openEffectDecision: steps<{ effect: EffectName }>(({ context, event, enqueue }, params) => {
    // Unknown after a restart, or never reported before the effect's deadline (its report was lost, or it hangs).
    if (event.type !== 'effect.unknown' && event.type !== 'timer.fired') return;
    const key = event.type === 'effect.unknown' ? event.key : effectKey(context, params.effect);
    const reason = event.type === 'effect.unknown' ? event.reason : 'it did not report before its deadline';
    const id = `${context.id}.d${context.decisionSeq + 1}`;
    const contextKey = `effect_unknown:${key}`;
    const options = [EFFECT_HAPPENED, EFFECT_RUN_AGAIN, ABORT];
    const question = event.type === 'effect.unknown'
      ? `${params.effect} was started by an earlier run of conveyor and its outcome cannot be told (${reason}). Did it happen?`
      : `${params.effect} did not report before its deadline; its journal record ${key} tells what is known. Did it happen?`;
    enqueue.assign({ decisionSeq: context.decisionSeq + 1, decision: { id, contextKey, options }, deadline: null });
    enqueue.emit({ type: 'decision.requested', decisionId: id, contextKey, question, options, data: { key, effect: params.effect, reason } });
  }),
  /** The answer closes the unknown effect's journal record: done, or given up for a fresh run. */
  settleEffect: steps<{ outcome: 'happened' | 'not_happened' }>(({ event, enqueue }, params) => {
    // The state's exit has already let go of the decision; the answer names it.
    if (event.type !== 'decision.resolved' || !event.contextKey.startsWith('effect_unknown:')) return;
    enqueue.emit({ type: 'effect.settled', key: event.contextKey.slice('effect_unknown:'.length), outcome: params.outcome, by: event.by });
  }),
  /** The agent ended with a question: it is kept, so the decision that asks it can be opened again after a hold. */
  recordQuestion: steps(({ event, enqueue }) => {
    if (event.type === 'job.exited' && event.question) enqueue.assign({ question: event.question });
  }),
  /** Asks the agent's question: its own options, and a reply in the person's words. */
  openQuestion: steps(({ context, enqueue }) => {
    if (!context.question) return;
    const id = `${context.id}.d${context.decisionSeq + 1}`;
    const options = [...(context.question.options ?? []).filter((o) => o !== REPLY), REPLY];
    enqueue.assign({ decisionSeq: context.decisionSeq + 1, decision: { id, contextKey: AGENT_QUESTION, options } });
    enqueue.emit({ type: 'decision.requested', decisionId: id, contextKey: AGENT_QUESTION, question: context.question.text, options, data: { jobId: context.job?.id } });
  }),
  /** The answer (the reply's words, or the option chosen) waits for the stage's next run, which resumes the agent's session. */
  answerQuestion: steps(({ context, event, enqueue }) => {
    if (event.type !== 'decision.resolved' || !context.question) return;
    const text = event.option === REPLY ? (event.answer ?? '') : event.option;
    const answer = { text, by: event.by, via: 'decision', at: event.at, answers: context.question.text };
    enqueue.assign({ question: null, decision: null, steering: [...(context.steering ?? []), answer].slice(-20) });
  }),
  /** Continue after a reset: the stage restarts from a clean slate in a new run epoch (SPEC R29). */
  restartStage: steps(({ context, enqueue }) => {
    enqueue.assign({ epoch: context.epoch + 1, retries: 0, job: null, effectAttempt: 1, deadline: null, failure: null, decision: null, lastFailure: null, escalation: null });
  }),
};
