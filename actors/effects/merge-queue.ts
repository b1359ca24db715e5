import { KeyedSerial } from '../keyed-serial.ts';
import { forgeError, type ForgeClient } from './forge-client.ts';
import { NonRetriableError, RetriableError, throwIfAbandoned } from './errors.ts';
import { rebaseOntoTarget, type RebaseOutcome } from './rebase.ts';

/** One pull request to merge: the task's branch, its PR number and the worktree to rebase it in. */
export interface MergeRequest {
  taskId: string;
  /** conveyor's name of the repository (the forge client's key). */
  repo: string;
  targetBranch: string;
  branch: string;
  pr: number;
  /** The task's worktree; null merges the branch as the forge has it, without rebasing. */
  worktree: string | null;
}

/** What the merge did; `alreadyMerged` when the forge shows it merged though this call's merge did not succeed (merged earlier, or the answer was lost). */
export interface MergeOutcome {
  merged: true;
  mergeSha: string | null;
  head: string;
  rebased: boolean;
  pushed: boolean;
  alreadyMerged: boolean;
}

/**
 * Serializes merges per repository (SPEC R18): under the repository's turn, the branch is rebased
 * onto the target (a no-op when up to date), pushed only if that changed it, merged through the
 * forge, and read back to confirm. A pull request the forge already shows merged is not merged again.
 */
export class MergeQueue {
  readonly #forge: ForgeClient;
  readonly #turns = new KeyedSerial();
  readonly #waiting = new Map<string, number>();
  readonly #rebase: (worktree: string, branch: string, target: string) => Promise<RebaseOutcome>;

  constructor(opts: { forge: ForgeClient; rebase?: (worktree: string, branch: string, target: string) => Promise<RebaseOutcome> }) {
    this.#forge = opts.forge;
    this.#rebase = opts.rebase ?? rebaseOntoTarget;
  }

  /** Merges one pull request in its repository's turn; throws NonRetriableError, RetriableError or EffectAbandonedError. */
  merge(req: MergeRequest, signal: AbortSignal): Promise<MergeOutcome> {
    this.#waiting.set(req.repo, (this.#waiting.get(req.repo) ?? 0) + 1);
    return this.#turns.run(req.repo, () => this.#merge(req, signal)).finally(() => {
      const left = (this.#waiting.get(req.repo) ?? 1) - 1;
      if (left === 0) this.#waiting.delete(req.repo);
      else this.#waiting.set(req.repo, left);
    });
  }

  /** Merges waiting or running per repository. */
  stats(): Record<string, number> {
    return Object.fromEntries(this.#waiting);
  }

  async #merge(req: MergeRequest, signal: AbortSignal): Promise<MergeOutcome> {
    const what = `pull request #${req.pr} of ${req.repo}`;
    const pr = await this.#forge.getPullRequest(req.repo, req.pr);
    if (!pr.ok) throw forgeError(pr.failure);
    if (pr.value.merged) return { merged: true, mergeSha: pr.value.mergeSha, head: pr.value.headSha, rebased: false, pushed: false, alreadyMerged: true };
    if (pr.value.state === 'closed') throw new NonRetriableError(`merge-queue: ${what} is closed without being merged`);

    throwIfAbandoned(signal, `merging ${what}`);
    const synced = req.worktree ? await this.#rebase(req.worktree, req.branch, req.targetBranch) : { head: pr.value.headSha, rebased: false, pushed: false };
    throwIfAbandoned(signal, `merging ${what}`);
    const merged = await this.#forge.mergePullRequest(req.repo, req.pr, { sha: synced.head });

    // Read back whatever the answer: a refused or lost answer may still mean merged (by an earlier call).
    const after = await this.#forge.getPullRequest(req.repo, req.pr);
    if (after.ok && after.value.merged) {
      return { merged: true, mergeSha: after.value.mergeSha ?? (merged.ok ? merged.value.mergeSha : null), head: synced.head, ...flags(synced), alreadyMerged: !merged.ok };
    }
    if (!merged.ok) throw forgeError(merged.failure);
    if (!after.ok) throw new RetriableError(`merge-queue: ${what} was merged but could not be read back: ${after.failure.message}`);
    throw new RetriableError(`merge-queue: the forge accepted the merge of ${what} but shows it unmerged`);
  }
}

const flags = (s: { rebased: boolean; pushed: boolean }) => ({ rebased: s.rebased, pushed: s.pushed });
