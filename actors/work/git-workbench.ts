import { rebaseOntoTarget, type RebaseOutcome } from '../effects/rebase.ts';
import { syncWorktree, Worktrees, type EnsureWorktreeResult, type RemoveWorktreeResult, type RepoSpec, type SyncOptions, type SyncOutcome } from '../git/index.ts';

/** Everything conveyor asks of git: a worktree per task, syncing it at stage boundaries, rebasing before a merge. */
export interface GitWorkbench {
  /** Makes the task's branch and worktree exactly once, and returns the existing one on later calls. */
  ensureWorktree(repo: RepoSpec, taskId: string, branch: string): Promise<EnsureWorktreeResult>;
  removeWorktree(repo: RepoSpec, taskId: string): Promise<RemoveWorktreeResult>;
  /** At start, before any task runs: clears what a killed git left in the repository. */
  repair?(repo: RepoSpec): Promise<void>;
  /** Brings a worktree level with its remote branch, pinning whatever it must discard. */
  sync(options: SyncOptions): Promise<SyncOutcome>;
  /** Rebases a branch onto its target (a no-op when it contains it) and pushes what changed. */
  rebaseOntoTarget(worktree: string, branch: string, target: string): Promise<RebaseOutcome>;
}

/** The real git command: bare clones and worktrees under the data directory. */
export function realGit(dataDir: string): GitWorkbench & { worktrees: Worktrees } {
  const worktrees = new Worktrees({ dataDir });
  return {
    worktrees,
    ensureWorktree: (repo, taskId, branch) => worktrees.ensureWorktree(repo, taskId, branch),
    removeWorktree: (repo, taskId) => worktrees.removeWorktree(repo, taskId),
    repair: (repo) => worktrees.repair(repo),
    sync: (options) => syncWorktree(options),
    rebaseOntoTarget: (worktree, branch, target) => rebaseOntoTarget(worktree, branch, target),
  };
}
