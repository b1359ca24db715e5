export { runGit, gitEnv, describeFailure } from './run-git.ts';
export type { GitResult, RunGitOptions } from './run-git.ts';
export { Worktrees } from './worktree.ts';
export type { RepoSpec, EnsureRepoResult, EnsureWorktreeResult, RemoveWorktreeResult, PushResult } from './worktree.ts';
export { syncWorktree, unixNs } from './sync.ts';
export type { SyncOptions, SyncOutcome, SyncStep } from './sync.ts';
