import { describeFailure, runGit } from '../git/index.ts';
import { NonRetriableError, RetriableError } from './errors.ts';

/** What bringing a branch onto its target did: the head to merge, and whether anything was rewritten and pushed. */
export interface RebaseOutcome {
  head: string;
  rebased: boolean;
  pushed: boolean;
}

/**
 * In the task's worktree: fetches, rebases the branch onto `origin/<target>` unless it already
 * contains it (then nothing is rewritten or pushed, so no new CI is triggered), and pushes a
 * rewritten head with --force-with-lease. A conflict aborts the rebase and fails for good, naming
 * the files.
 */
export async function rebaseOntoTarget(worktree: string, branch: string, target: string): Promise<RebaseOutcome> {
  const git = (...args: string[]) => runGit(args, { cwd: worktree });
  const fetched = await git('fetch', '--quiet', 'origin');
  if (!fetched.ok) throw new RetriableError(`merge-queue: ${describeFailure('fetching origin', fetched)}`);
  const dirty = await git('status', '--porcelain', '--untracked-files=no');
  if (!dirty.ok) throw new RetriableError(`merge-queue: ${describeFailure(`reading the status of ${worktree}`, dirty)}`);
  if (dirty.stdout.trim()) throw new NonRetriableError(`merge-queue: the worktree of ${branch} has uncommitted changes: ${files(dirty.stdout.split('\n').map((l) => l.slice(3)))}`);

  let before = await revParse(worktree, 'HEAD');
  const remote = await revParse(worktree, `refs/remotes/origin/${branch}`);
  const onto = await revParse(worktree, `refs/remotes/origin/${target}`);
  if (!before || !onto) throw new RetriableError(`merge-queue: cannot resolve HEAD or origin/${target} in ${worktree}`);
  if (remote && remote !== before) {
    // The forge merges what origin has: catch up with it, but never drop or merge unpushed work.
    if (!(await isAncestor(worktree, before, remote))) {
      throw new NonRetriableError(`merge-queue: ${branch} in the worktree (${before}) has commits origin/${branch} (${remote}) lacks; push or drop them first`);
    }
    const ff = await git('merge', '--ff-only', '--quiet', remote);
    if (!ff.ok) throw new RetriableError(`merge-queue: ${describeFailure(`fast-forwarding ${branch}`, ff)}`);
    before = remote;
  }
  if (await isAncestor(worktree, onto, before)) return { head: before, rebased: false, pushed: false };

  const rebased = await git('rebase', '--quiet', onto);
  if (!rebased.ok) {
    const conflicted = await git('diff', '--name-only', '--diff-filter=U');
    await git('rebase', '--abort');
    const names = conflicted.stdout.split('\n').filter(Boolean);
    if (names.length > 0) throw new NonRetriableError(`merge-queue: rebasing ${branch} onto origin/${target} conflicts in ${files(names)}`);
    throw new RetriableError(`merge-queue: ${describeFailure(`rebasing ${branch} onto origin/${target}`, rebased)}`);
  }
  const head = await revParse(worktree, 'HEAD');
  if (!head) throw new RetriableError(`merge-queue: cannot resolve HEAD after rebasing ${branch}`);
  if (head === before) return { head, rebased: false, pushed: false };
  const lease = `--force-with-lease=refs/heads/${branch}:${remote ?? ''}`;
  const pushed = await git('push', '--quiet', lease, 'origin', `HEAD:refs/heads/${branch}`);
  if (!pushed.ok) {
    // Someone pushed meanwhile: leave the worktree as origin last had it; the next attempt starts over.
    await git('reset', '--hard', '--quiet', before);
    throw new RetriableError(`merge-queue: ${describeFailure(`pushing the rebased ${branch}`, pushed)}`);
  }
  return { head, rebased: true, pushed: true };
}

async function revParse(cwd: string, ref: string): Promise<string | null> {
  const r = await runGit(['rev-parse', '--verify', '--quiet', `${ref}^{commit}`], { cwd });
  return r.ok ? r.stdout.trim() : null;
}

async function isAncestor(cwd: string, ancestor: string, of: string): Promise<boolean> {
  return (await runGit(['merge-base', '--is-ancestor', ancestor, of], { cwd })).ok;
}

function files(names: string[]): string {
  const list = names.map((n) => n.trim()).filter(Boolean);
  return list.length > 10 ? `${list.slice(0, 10).join(', ')} and ${list.length - 10} more` : list.join(', ');
}
