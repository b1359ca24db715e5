import { randomUUID } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { describeFailure, runGit } from './run-git.ts';
import type { GitResult } from './run-git.ts';

/** What to sync: a task's worktree and the branch it has checked out. */
export interface SyncOptions {
  path: string;
  branch: string;
  taskId: string;
  remote?: string;
  /** Nanoseconds since the Unix epoch, for backup ref names; injectable so tests can force a collision. */
  nowNs?: () => bigint;
}

/** The part of a sync that could not run when the outcome is `failed`. */
export type SyncStep = 'read' | 'fetch' | 'save' | 'backup';

/**
 * How a worktree was brought level with its remote branch. `in_sync` covers a worktree that is ahead
 * (pushing is not sync's job) and one whose branch is not on the remote yet (`remoteBranch: false`; `ahead`
 * then counts commits on no remote branch). `failed` means nothing could be compared or the safeguards
 * before a reset failed: nothing was discarded and the worktree is as it was, except that uncommitted
 * work may have been committed. Uncommitted work is inside the backup ref of every outcome that discards it.
 */
export type SyncOutcome =
  | { outcome: 'in_sync'; head: string; ahead: number; remoteBranch: boolean }
  | { outcome: 'fast_forwarded'; from: string; to: string }
  | { outcome: 'rebased'; from: string; to: string }
  | { outcome: 'hard_reset'; backupRef: string; discardedShas: string[]; from: string; to: string }
  | { outcome: 'reset_failed'; backupRef: string; discardedShas: string[]; from: string; error: string }
  | { outcome: 'failed'; step: SyncStep; error: string };

const TASK_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/;
const WIP_TRAILER = 'Conveyor-Sync-Wip';
const MAX_REF_TRIES = 1000;

/** Nanoseconds since the Unix epoch: the wall clock's milliseconds plus the monotonic clock's sub-millisecond part. */
export function unixNs(): bigint {
  return BigInt(Date.now()) * 1_000_000n + (process.hrtime.bigint() % 1_000_000n);
}

/** Brings a task's worktree level with the remote branch at a stage boundary, pinning whatever it must discard. */
export async function syncWorktree(options: SyncOptions): Promise<SyncOutcome> {
  const { path: cwd, branch, taskId } = options;
  const remote = options.remote ?? 'origin';
  const git = (...args: string[]) => runGit(args, { cwd });
  if (!TASK_ID.test(taskId)) return { outcome: 'failed', step: 'read', error: `sync: invalid task id ${JSON.stringify(taskId)}` };

  // A rebase left behind by an interrupted sync would make every command below misbehave.
  if (await rebaseInProgress(cwd)) await git('rebase', '--abort');
  const from = await resolveCommit(cwd, 'HEAD');
  if (!from) return { outcome: 'failed', step: 'read', error: `sync: ${cwd} has no HEAD commit` };

  const listed = await git('ls-remote', '--exit-code', '--heads', remote, `refs/heads/${branch}`);
  if (listed.code === 2) {
    const unpushed = await git('rev-list', '--count', 'HEAD', '--not', `--remotes=${remote}`);
    return { outcome: 'in_sync', head: from, ahead: Number(unpushed.stdout.trim()) || 0, remoteBranch: false };
  }
  if (!listed.ok) return failed('fetch', `listing ${remote}`, listed);
  const upstream = `refs/remotes/${remote}/${branch}`;
  const fetched = await git('fetch', '--quiet', '--no-tags', remote, `+refs/heads/${branch}:${upstream}`);
  if (!fetched.ok) return failed('fetch', `fetching ${branch} from ${remote}`, fetched);
  const to = await resolveCommit(cwd, upstream);
  if (!to) return { outcome: 'failed', step: 'fetch', error: `sync: ${upstream} is missing after the fetch` };

  const counted = await git('rev-list', '--left-right', '--count', `HEAD...${upstream}`);
  const [ahead, behind] = counted.stdout.trim().split(/\s+/).map(Number);
  if (!counted.ok || ahead === undefined || behind === undefined || Number.isNaN(ahead + behind)) {
    return failed('read', 'comparing HEAD with the remote branch', counted);
  }
  if (behind === 0) return { outcome: 'in_sync', head: from, ahead, remoteBranch: true };
  if (ahead === 0) {
    const merged = await git('merge', '--ff-only', '--quiet', upstream);
    if (merged.ok && (await resolveCommit(cwd, 'HEAD')) === to) return { outcome: 'fast_forwarded', from, to };
    // Uncommitted changes stood in the way of the fast-forward: reconcile them as a divergence.
  }
  return reconcile({ cwd, taskId, upstream, from, to, nowNs: options.nowNs ?? unixNs });
}

interface Divergence {
  cwd: string;
  taskId: string;
  upstream: string;
  from: string;
  to: string;
  nowNs: () => bigint;
}

/** Rebases onto the remote branch, or pins the local work under a backup ref and resets to the remote. */
async function reconcile({ cwd, taskId, upstream, from, to, nowNs }: Divergence): Promise<SyncOutcome> {
  const git = (...args: string[]) => runGit(args, { cwd });
  // Uncommitted work becomes a commit first, so that a reset below discards nothing the backup ref lacks.
  const token = randomUUID();
  const saved = await saveUncommitted(cwd, token);
  if (!saved.ok) return failed('save', 'committing uncommitted work', saved.result);
  const local = await resolveCommit(cwd, 'HEAD');
  if (!local) return { outcome: 'failed', step: 'read', error: `sync: ${cwd} lost its HEAD` };

  const rebase = await git('-c', 'rebase.autoStash=false', 'rebase', '--quiet', upstream);
  // The exit code alone is not trusted: a stopped rebase, a dirty tree or a missing upstream all count as failure.
  const stopped = await rebaseInProgress(cwd);
  if (stopped) await git('rebase', '--abort');
  if (rebase.ok && !stopped && (await isCleanOn(cwd, upstream))) {
    if (saved.committed) await restoreUncommitted(cwd, token);
    return { outcome: 'rebased', from, to: (await resolveCommit(cwd, 'HEAD')) ?? local };
  }

  const pinned = await pinBackup(cwd, taskId, local, nowNs);
  if (!pinned.ok) return { outcome: 'failed', step: 'backup', error: pinned.error };
  const backupRef = pinned.ref;
  const listed = await git('rev-list', `${upstream}..${local}`);
  if (!listed.ok) return failed('backup', `listing the commits of ${backupRef}`, listed);
  const discardedShas = listed.stdout.split('\n').filter(Boolean);

  const reset = await git('reset', '--hard', '--quiet', upstream);
  // An abort that failed above leaves the rebase state behind even when the reset works.
  if (await rebaseInProgress(cwd)) await git('rebase', '--quit');
  const head = await resolveCommit(cwd, 'HEAD');
  let error: string | null = null;
  if (!reset.ok) error = `sync: ${describeFailure(`resetting to ${upstream}`, reset)}`;
  else if (head !== to) error = `sync: HEAD is ${head ?? 'missing'} after the reset, not ${to}`;
  else if (await rebaseInProgress(cwd)) error = 'sync: a rebase is still in progress after the reset';
  if (error) return { outcome: 'reset_failed', backupRef, discardedShas, from, error };
  return { outcome: 'hard_reset', backupRef, discardedShas, from, to };
}

type Saved = { ok: true; committed: boolean } | { ok: false; result: GitResult };

/** Commits tracked changes and untracked files (ignored ones aside) on top of HEAD, marked with `token`. */
async function saveUncommitted(cwd: string, token: string): Promise<Saved> {
  const status = await runGit(['status', '--porcelain', '--untracked-files=all'], { cwd });
  if (!status.ok) return { ok: false, result: status };
  if (!status.stdout.trim()) return { ok: true, committed: false };
  const added = await runGit(['add', '--all'], { cwd });
  if (!added.ok) return { ok: false, result: added };
  // Hooks and signing are the agents' business: they must not stop conveyor from keeping their work.
  const committed = await runGit(
    ['-c', 'commit.gpgsign=false', 'commit', '--quiet', '--no-verify', '-m', 'conveyor: uncommitted work saved before sync', '-m', `${WIP_TRAILER}: ${token}`],
    { cwd },
  );
  return committed.ok ? { ok: true, committed: true } : { ok: false, result: committed };
}

/** Turns the saved commit back into uncommitted changes, unless the rebase dropped it as already upstream. */
async function restoreUncommitted(cwd: string, token: string): Promise<void> {
  const message = await runGit(['log', '-1', '--format=%B', 'HEAD'], { cwd });
  if (message.ok && message.stdout.includes(`${WIP_TRAILER}: ${token}`)) {
    await runGit(['reset', '--quiet', 'HEAD~1'], { cwd });
  }
}

/** Creates `refs/conveyor/sync-recovery/<task>/<ns>` at `sha`, create-only, moving to the next ns on a collision. */
async function pinBackup(cwd: string, taskId: string, sha: string, nowNs: () => bigint): Promise<{ ok: true; ref: string } | { ok: false; error: string }> {
  let ns = nowNs();
  for (let tries = 0; tries < MAX_REF_TRIES; tries += 1, ns += 1n) {
    const ref = `refs/conveyor/sync-recovery/${taskId}/${ns}`;
    const created = await runGit(['update-ref', '--create-reflog', '-m', 'conveyor: sync recovery', ref, sha, ''], { cwd });
    const pinned = await resolveCommit(cwd, ref);
    if (created.ok) {
      return pinned === sha ? { ok: true, ref } : { ok: false, error: `sync: backup ref ${ref} resolves to ${pinned ?? 'nothing'}, not ${sha}` };
    }
    if (!pinned) return { ok: false, error: `sync: ${describeFailure(`creating backup ref ${ref}`, created)}` };
  }
  return { ok: false, error: `sync: no free backup ref for ${taskId} after ${MAX_REF_TRIES} tries` };
}

async function isCleanOn(cwd: string, upstream: string): Promise<boolean> {
  const contains = await runGit(['merge-base', '--is-ancestor', upstream, 'HEAD'], { cwd });
  const status = await runGit(['status', '--porcelain', '--untracked-files=all'], { cwd });
  return contains.ok && status.ok && status.stdout.trim() === '';
}

async function rebaseInProgress(cwd: string): Promise<boolean> {
  const paths = await runGit(['rev-parse', '--git-path', 'rebase-merge', '--git-path', 'rebase-apply'], { cwd });
  if (!paths.ok) return false;
  const found = await Promise.all(
    paths.stdout.trim().split('\n').filter(Boolean).map((path) => stat(resolve(cwd, path)).then(() => true, () => false)),
  );
  return found.includes(true);
}

async function resolveCommit(cwd: string, ref: string): Promise<string | null> {
  const result = await runGit(['rev-parse', '--verify', '--quiet', `${ref}^{commit}`], { cwd });
  return result.ok ? result.stdout.trim() : null;
}

function failed(step: SyncStep, what: string, result: GitResult): SyncOutcome {
  return { outcome: 'failed', step, error: `sync: ${describeFailure(what, result)}` };
}
