import type { RuntimeHandle } from '../types.ts';
import { NonRetriableError } from './errors.ts';
import type { ForgeClient } from './forge-client.ts';
import { journaledEffect } from './journal.ts';
import type { MergeOutcome, MergeQueue } from './merge-queue.ts';

export interface MergeEffectOptions {
  rt: RuntimeHandle;
  queue: MergeQueue;
  forge: ForgeClient;
  /** The branch changes of a repository land on. */
  targetBranchOf(repo: string): string;
  /** The task's worktree (made if missing), or null to merge without rebasing; throws when it cannot be had. */
  worktreeFor(taskId: string, repo: string, branch: string): Promise<string | null>;
}

/** What the merge effect records when the repository has no forge: nothing to merge, the pipeline moves on. */
export interface MergeSkipped {
  skipped: true;
  reason: string;
}

/**
 * The mergePullRequest actor: the journaled merge through the repository's queue. After a crash it
 * asks the forge whether the pull request is merged (and at which sha) instead of merging again.
 */
export function mergeEffect(o: MergeEffectOptions) {
  return journaledEffect<MergeOutcome | MergeSkipped>({
    rt: o.rt,
    name: 'mergePullRequest',
    idempotent: false,
    run: async (input, signal) => {
      if (!o.forge.has(input.repo)) return { skipped: true, reason: `no forge is configured for ${input.repo}` };
      const pr = input.head?.pr;
      if (pr === null || pr === undefined) throw new NonRetriableError(`merge: task ${input.taskId} has no pull request to merge`);
      const worktree = await o.worktreeFor(input.taskId, input.repo, input.branch);
      return o.queue.merge({ taskId: input.taskId, repo: input.repo, targetBranch: o.targetBranchOf(input.repo), branch: input.branch, pr, worktree }, signal);
    },
    reconcile: async (_record, input) => {
      const pr = input.head?.pr;
      // Without a forge or a PR number the run changes nothing outside, so running it again is safe.
      if (!o.forge.has(input.repo) || pr === null || pr === undefined) return { notDone: true };
      const state = await o.forge.getPullRequest(input.repo, pr);
      if (!state.ok) return { unknown: `cannot ask the forge whether pull request #${pr} is merged: ${state.failure.message}` };
      if (!state.value.merged) return { notDone: true };
      return { done: { merged: true, mergeSha: state.value.mergeSha, head: state.value.headSha, rebased: false, pushed: false, alreadyMerged: true } };
    },
  });
}
