import { randomBytes } from 'node:crypto';
import { mkdir, realpath, rename, rm, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { KeyedSerial } from '../keyed-serial.ts';
import { isAddLeftover, removeStaleLocks, repairWorktrees } from './repair.ts';
import { describeFailure, runGit } from './run-git.ts';

/** A repository conveyor works on: its name under the data directory, its remote and the branch changes land on. */
export interface RepoSpec {
  name: string;
  remote: string;
  targetBranch: string;
}

/** Where a repository's bare clone is, or why it could not be made. */
export type EnsureRepoResult = { ok: true; path: string } | { ok: false; reason: string };

/** A task's worktree, or why it could not be made. */
export type EnsureWorktreeResult =
  | { ok: true; path: string; branch: string; head: string; created: boolean }
  | { ok: false; reason: string };

/** Whether a worktree was removed (`removed: false` when there was none), or why not. */
export type RemoveWorktreeResult = { ok: true; removed: boolean } | { ok: false; reason: string };

/** The branch and head pushed to origin, or why the push failed. */
export type PushResult = { ok: true; branch: string; head: string } | { ok: false; reason: string };

// Task ids and repository names become paths and ref names, so they are held to a safe alphabet.
const TASK_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/;
const REPO_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*(\/[A-Za-z0-9][A-Za-z0-9._-]*)*$/;

type Inspection =
  | { state: 'absent' }
  | { state: 'stale' }
  | { state: 'valid'; head: string }
  | { state: 'other'; reason: string };

/** Bare clones under `<dataDir>/repos` and one worktree per task under `<dataDir>/worktrees`. */
export class Worktrees {
  readonly dataDir: string;
  readonly #repos = new Map<string, Promise<EnsureRepoResult>>();
  readonly #worktrees = new Map<string, Promise<EnsureWorktreeResult>>();
  /** Fetches and adds in one repository run one at a time (a fetch fails on a half-made add's HEAD). */
  readonly #serial = new KeyedSerial();

  constructor(options: { dataDir: string }) {
    this.dataDir = resolve(options.dataDir);
  }

  /** The path of a repository's bare clone. */
  repoPath(repo: Pick<RepoSpec, 'name'>): string {
    return join(this.dataDir, 'repos', `${repo.name}.git`);
  }

  /** The path of a task's worktree. */
  worktreePath(taskId: string): string {
    return join(this.dataDir, 'worktrees', taskId);
  }

  /** Clones the repository bare once (concurrent callers share one clone) and fetches origin. */
  ensureRepo(repo: RepoSpec): Promise<EnsureRepoResult> {
    const invalid = invalidName(repo);
    if (invalid) return Promise.resolve({ ok: false, reason: invalid });
    return shared(this.#repos, repo.name, () => this.#serial.run(this.repoPath(repo), () => this.#ensureRepo(repo)));
  }

  /** Makes the task's branch and worktree exactly once, and returns the existing one on later calls. */
  async ensureWorktree(repo: RepoSpec, taskId: string, branch: string): Promise<EnsureWorktreeResult> {
    const invalid = invalidName(repo, taskId);
    if (invalid) return { ok: false, reason: invalid };
    const joined = this.#worktrees.has(taskId);
    const result = await shared(this.#worktrees, taskId, () => this.#ensureWorktree(repo, taskId, branch));
    if (result.ok && result.branch !== branch) {
      return { ok: false, reason: `worktree: task ${taskId} already has a worktree on ${result.branch}, not ${branch}` };
    }
    // Only the call that did the work reports the creation, so a caller acting on `created` acts once.
    return result.ok && joined ? { ...result, created: false } : result;
  }

  /**
   * At start, before any task runs: clears what a killed git left in the repository (stale lock files,
   * half-made worktree metadata), so that no interrupted add can fail another task's.
   */
  async repair(repo: RepoSpec): Promise<void> {
    if (invalidName(repo)) return;
    const path = this.repoPath(repo);
    await this.#serial.run(path, async () => {
      if (!(await isBareRepo(path))) return;
      await removeStaleLocks(path);
      await repairWorktrees(path, join(this.dataDir, 'worktrees'));
    });
  }

  /** Removes the task's worktree (its branch stays); a worktree that is already gone is fine. */
  async removeWorktree(repo: RepoSpec, taskId: string): Promise<RemoveWorktreeResult> {
    const invalid = invalidName(repo, taskId);
    if (invalid) return { ok: false, reason: invalid };
    await this.#worktrees.get(taskId)?.catch(() => undefined);
    const path = this.worktreePath(taskId);
    const repoPath = this.repoPath(repo);
    if (!(await exists(repoPath))) {
      await rm(path, { recursive: true, force: true });
      return { ok: true, removed: false };
    }
    const inspection = await this.#inspect(repo, path, null);
    if (inspection.state === 'absent' || inspection.state === 'stale') {
      // A leftover directory under conveyor's own data dir that is no worktree holds nothing of value.
      await rm(path, { recursive: true, force: true });
      await runGit(['worktree', 'prune'], { cwd: repoPath });
      return { ok: true, removed: false };
    }
    if (inspection.state === 'other') return { ok: false, reason: inspection.reason };
    // Twice forced: a worktree left locked by an interrupted `worktree add` is still removed.
    const removed = await runGit(['worktree', 'remove', '--force', '--force', path], { cwd: repoPath });
    await runGit(['worktree', 'prune'], { cwd: repoPath });
    if (!removed.ok) return { ok: false, reason: `worktree: ${describeFailure(`removing ${path}`, removed)}` };
    return { ok: true, removed: true };
  }

  /** Pushes the branch checked out in the task's worktree to origin, without force. */
  async push(repo: RepoSpec, taskId: string): Promise<PushResult> {
    const invalid = invalidName(repo, taskId);
    if (invalid) return { ok: false, reason: invalid };
    const path = this.worktreePath(taskId);
    const inspection = await this.#inspect(repo, path, null);
    if (inspection.state !== 'valid') return { ok: false, reason: `worktree: task ${taskId} has no worktree to push` };
    const ref = await runGit(['symbolic-ref', '-q', '--short', 'HEAD'], { cwd: path });
    const branch = ref.stdout.trim();
    if (!ref.ok || !branch) return { ok: false, reason: `worktree: task ${taskId} is not on a branch` };
    const pushed = await runGit(['push', '--quiet', 'origin', `refs/heads/${branch}:refs/heads/${branch}`], { cwd: path });
    if (!pushed.ok) return { ok: false, reason: `worktree: ${describeFailure(`pushing ${branch}`, pushed)}` };
    return { ok: true, branch, head: inspection.head };
  }

  async #ensureRepo(repo: RepoSpec): Promise<EnsureRepoResult> {
    const path = this.repoPath(repo);
    if (!(await isBareRepo(path))) {
      if (await exists(path)) return { ok: false, reason: `worktree: ${path} exists and is not a bare repository` };
      await mkdir(dirname(path), { recursive: true });
      // Clone beside the final path and rename: an interrupted clone never looks like a repository.
      const temp = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
      const cloned = await runGit(['clone', '--bare', '--quiet', '--', repo.remote, temp], { cwd: dirname(path) });
      const refspec = cloned.ok
        ? await runGit(['config', 'remote.origin.fetch', '+refs/heads/*:refs/remotes/origin/*'], { cwd: temp })
        : cloned;
      if (!refspec.ok) {
        await rm(temp, { recursive: true, force: true });
        return { ok: false, reason: `worktree: ${describeFailure(`cloning ${repo.remote}`, refspec)}` };
      }
      try {
        await rename(temp, path);
      } catch {
        // Another process finished its clone first; its copy is as good as ours.
        await rm(temp, { recursive: true, force: true });
        if (!(await isBareRepo(path))) return { ok: false, reason: `worktree: cannot move the clone into ${path}` };
      }
    }
    // A half-made add's metadata would fail the fetch; no add runs now (they take the same turn).
    await repairWorktrees(path, join(this.dataDir, 'worktrees'));
    const fetched = await runGit(['fetch', '--quiet', '--prune', 'origin'], { cwd: path });
    if (!fetched.ok) return { ok: false, reason: `worktree: ${describeFailure(`fetching ${repo.remote}`, fetched)}` };
    return { ok: true, path };
  }

  async #ensureWorktree(repo: RepoSpec, taskId: string, branch: string): Promise<EnsureWorktreeResult> {
    const path = this.worktreePath(taskId);
    const before = await this.#inspect(repo, path, branch);
    if (before.state === 'valid') return { ok: true, path, branch, head: before.head, created: false };
    if (before.state === 'other') return { ok: false, reason: before.reason };

    const ensured = await this.ensureRepo(repo);
    if (!ensured.ok) return ensured;
    const cwd = ensured.path;
    const format = await runGit(['check-ref-format', `refs/heads/${branch}`], { cwd });
    if (!format.ok || branch.startsWith('-')) return { ok: false, reason: `worktree: invalid branch name ${JSON.stringify(branch)}` };
    return this.#serial.run(cwd, () => this.#add(repo, cwd, taskId, branch));
  }

  /** Adds the worktree, in the repository's turn, after clearing what an interrupted add left. */
  async #add(repo: RepoSpec, cwd: string, taskId: string, branch: string): Promise<EnsureWorktreeResult> {
    const path = this.worktreePath(taskId);
    await repairWorktrees(cwd, join(this.dataDir, 'worktrees'));
    const before = await this.#inspect(repo, path, branch);
    if (before.state === 'valid') return { ok: true, path, branch, head: before.head, created: false };
    if (before.state === 'other') return { ok: false, reason: before.reason };
    if (before.state === 'stale') {
      // Only a leftover of an add into this repository is cleared; anything else is not ours to delete.
      if (!(await isAddLeftover(path, cwd))) return { ok: false, reason: `worktree: ${path} exists and is not a worktree of ${repo.name}` };
      await rm(path, { recursive: true, force: true });
      await runGit(['worktree', 'prune'], { cwd });
    }

    const list = await runGit(['worktree', 'list', '--porcelain'], { cwd });
    if (list.stdout.split('\n').includes(`branch refs/heads/${branch}`)) {
      return { ok: false, reason: `worktree: branch ${branch} is checked out in another worktree` };
    }
    const branched = await this.#prepareBranch(cwd, repo, branch);
    if (!branched.ok) return branched;

    await mkdir(dirname(path), { recursive: true });
    const added = await runGit(['worktree', 'add', '--quiet', path, branch], { cwd });
    const after = await this.#inspect(repo, path, branch);
    if (after.state === 'valid') return { ok: true, path, branch, head: after.head, created: added.ok };
    return { ok: false, reason: `worktree: ${describeFailure(`adding a worktree for ${taskId}`, added)}` };
  }

  /** Creates the local branch from origin's copy of it, else from the target branch; a stale local copy is fast-forwarded. */
  async #prepareBranch(cwd: string, repo: RepoSpec, branch: string): Promise<{ ok: true } | { ok: false; reason: string }> {
    const local = await resolveRef(cwd, `refs/heads/${branch}`);
    const remote = await resolveRef(cwd, `refs/remotes/origin/${branch}`);
    if (local) {
      const behind = remote && remote !== local
        && (await runGit(['merge-base', '--is-ancestor', local, remote], { cwd })).ok;
      if (behind) await runGit(['update-ref', `refs/heads/${branch}`, remote, local], { cwd });
      return { ok: true };
    }
    const start = remote ?? (await resolveRef(cwd, `refs/remotes/origin/${repo.targetBranch}`));
    if (!start) return { ok: false, reason: `worktree: origin has no branch ${repo.targetBranch}` };
    // Create-only (empty old value): a branch made meanwhile by someone else is kept, not overwritten.
    const created = await runGit(['update-ref', `refs/heads/${branch}`, start, ''], { cwd });
    if (!created.ok && !(await resolveRef(cwd, `refs/heads/${branch}`))) {
      return { ok: false, reason: `worktree: ${describeFailure(`creating branch ${branch}`, created)}` };
    }
    return { ok: true };
  }

  /** Says whether `path` is a worktree of this repository (on `branch`, unless null). */
  async #inspect(repo: RepoSpec, path: string, branch: string | null): Promise<Inspection> {
    if (!(await exists(path))) return { state: 'absent' };
    const top = await runGit(['rev-parse', '--show-toplevel', '--git-common-dir'], { cwd: path });
    const [toplevel, common] = top.stdout.trim().split('\n');
    if (!top.ok || !toplevel || !common || (await realpathOr(toplevel)) !== (await realpathOr(path))) return { state: 'stale' };
    if ((await realpathOr(resolve(path, common))) !== (await realpathOr(this.repoPath(repo)))) {
      return { state: 'other', reason: `worktree: ${path} belongs to another repository than ${repo.name}` };
    }
    const ref = await runGit(['symbolic-ref', '-q', 'HEAD'], { cwd: path });
    if (branch !== null && ref.stdout.trim() !== `refs/heads/${branch}`) {
      return { state: 'other', reason: `worktree: ${path} is on ${ref.stdout.trim() || 'a detached HEAD'}, not ${branch}` };
    }
    const head = await resolveRef(path, 'HEAD');
    return head ? { state: 'valid', head } : { state: 'stale' };
  }
}

function invalidName(repo: RepoSpec, taskId?: string): string | null {
  if (!REPO_NAME.test(repo.name) || repo.name.split('/').some((part) => part.endsWith('.lock'))) {
    return `worktree: invalid repository name ${JSON.stringify(repo.name)}`;
  }
  if (taskId !== undefined && !TASK_ID.test(taskId)) return `worktree: invalid task id ${JSON.stringify(taskId)}`;
  return null;
}

function shared<T>(inFlight: Map<string, Promise<T>>, key: string, run: () => Promise<T>): Promise<T> {
  const running = inFlight.get(key);
  if (running) return running;
  const promise = run().finally(() => inFlight.delete(key));
  inFlight.set(key, promise);
  return promise;
}

async function resolveRef(cwd: string, ref: string): Promise<string | null> {
  const result = await runGit(['rev-parse', '--verify', '--quiet', `${ref}^{commit}`], { cwd });
  return result.ok ? result.stdout.trim() : null;
}

async function isBareRepo(path: string): Promise<boolean> {
  if (!(await exists(path))) return false;
  const result = await runGit(['rev-parse', '--is-bare-repository', '--absolute-git-dir'], { cwd: path });
  const [bare, gitDir] = result.stdout.trim().split('\n');
  return result.ok && bare === 'true' && gitDir !== undefined && (await realpathOr(gitDir)) === (await realpathOr(path));
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}

async function realpathOr(path: string): Promise<string> {
  return realpath(path).catch(() => resolve(path));
}
