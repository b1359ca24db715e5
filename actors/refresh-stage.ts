import { INVOKE_FAILED_PREFIX, type PreparedOutcome } from '../machines/index.ts';
import type { Runtime } from './runtime.ts';
import type { CommittedTransition } from './types.ts';
import type { TaskView } from './views.ts';

export type RefreshResult =
  | { ok: true; outcome: PreparedOutcome }
  /** Still syncing when the answer was due: the task reports the outcome in its history. */
  | { ok: true; outcome: 'refreshing' }
  | { ok: false; code: 'not_found' | 'wrong_stage' | 'busy' | 'no_repository' | 'sync_failed'; message: string }
  | { ok: false; code: 'recovery'; reason: 'hard_reset_recovery_unacked' | 'sync_rebase_and_reset_failed'; message: string; backupRef: string; discardedShas: string[]; decisionId: string | null };

/** What a refresh needs of the conveyor: the runtime, task views and whether the repository has worktrees. */
export interface RefreshHost {
  runtime: Runtime;
  task(id: string): TaskView | undefined;
  hasWorktrees(repo: string): boolean;
}

/** How long the answer waits for the sync before saying it is still under way. */
const ANSWER_WITHIN_MS = 60_000;

/**
 * Re-syncs a stage's worktree with its remote (SPEC R30) by asking the task, which takes the refresh
 * in its own turn at its gate, so no other work of the task is in the worktree meanwhile. Answers
 * with what the sync did once the task has left `refreshing`: a hard reset or a double failure has
 * opened the recovery decision (nothing downstream runs).
 */
export async function refreshStage(host: RefreshHost, taskId: string, stage: string): Promise<RefreshResult> {
  const view = host.task(taskId);
  if (!view) return { ok: false, code: 'not_found', message: `task ${taskId} does not exist` };
  if (view.stage !== stage) return { ok: false, code: 'wrong_stage', message: `task ${taskId} is in ${view.state}, not in stage ${stage}` };
  if (!host.hasWorktrees(view.repo)) return { ok: false, code: 'no_repository', message: `repository ${view.repo} is not configured; the task has no worktree to sync` };
  const left = leaving(host.runtime, taskId, `${stage}.refreshing`);
  const sent = await host.runtime.send(taskId, { type: 'stage.refresh', stage }, { source: 'operator' }).catch((e: unknown) => {
    left.cancel();
    throw e;
  });
  if (sent.status !== 'accepted') {
    left.cancel();
    const now = host.task(taskId);
    if (now && now.stage !== stage) return { ok: false, code: 'wrong_stage', message: `task ${taskId} is in ${now.state}, not in stage ${stage}` };
    const state = now?.state ?? 'unknown';
    return { ok: false, code: 'busy', message: `task ${taskId} is ${state}: its worktree is in use; refresh once it waits at its gate` };
  }
  const t = await left.promise;
  return t ? outcomeOf(host, t) : { ok: true, outcome: 'refreshing' };
}

function outcomeOf(host: RefreshHost, t: CommittedTransition): RefreshResult {
  const e = t.event;
  if (e.type === 'stage.prepared') return { ok: true, outcome: e.outcome ?? 'in_sync' };
  if (e.type === 'stage.prepare_failed') return { ok: false, code: 'sync_failed', message: e.reason };
  if (e.type.startsWith(INVOKE_FAILED_PREFIX)) return { ok: false, code: 'sync_failed', message: (e as { error: string }).error };
  if (e.type === 'stage.sync_reset' || e.type === 'stage.sync_failed') {
    const reset = e.type === 'stage.sync_reset';
    return {
      ok: false,
      code: 'recovery',
      reason: reset ? 'hard_reset_recovery_unacked' : 'sync_rebase_and_reset_failed',
      message: reset ? 'the worktree diverged and was hard reset; a human must acknowledge it' : 'the worktree diverged and could be neither rebased nor reset',
      backupRef: e.backupRef,
      discardedShas: e.discardedShas,
      decisionId: host.task(t.taskId)?.context.decision?.id ?? null,
    };
  }
  return { ok: false, code: 'busy', message: `task ${t.taskId} left its refresh for ${t.to} (${e.type}) before the sync reported` };
}

/** The next committed transition of the task out of `state`, or null when none came in time. */
function leaving(runtime: Runtime, taskId: string, state: string): { promise: Promise<CommittedTransition | null>; cancel(): void } {
  let settle: (t: CommittedTransition | null) => void = () => undefined;
  const promise = new Promise<CommittedTransition | null>((resolve) => (settle = resolve));
  const timer = runtime.clock.setTimeout(() => done(null), ANSWER_WITHIN_MS);
  const unsubscribe = runtime.onCommitted((t) => {
    if (t.taskId === taskId && t.from === state && t.to !== state) done(t);
  });
  function done(t: CommittedTransition | null) {
    runtime.clock.clearTimeout(timer);
    unsubscribe();
    settle(t);
  }
  return { promise, cancel: () => done(null) };
}
