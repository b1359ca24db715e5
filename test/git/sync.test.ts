import { chmod, mkdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Worktrees, syncWorktree } from '../../actors/git/index.ts';
import type { SyncOutcome } from '../../actors/git/index.ts';
import {
  cloneRemote, commitAndPush, commitFiles, createRemote, git, isolateGitConfig, makeTempDir, readWorkFile, writeFiles,
} from './fixtures.ts';

let restoreEnv: () => void;
beforeAll(() => {
  restoreEnv = isolateGitConfig();
});
afterAll(() => restoreEnv());

const BRANCH = 'conveyor/t1';
const README = 'line 1\nline 2\nline 3\nline 4\nline 5\n';

interface Scene {
  root: string;
  /** The task's worktree. */
  path: string;
  /** The bare clone the worktree belongs to, where backup refs live. */
  repoPath: string;
  /** A developer's clone on the task branch, pushing to the remote. */
  dev: string;
  cleanup: () => Promise<void>;
}

let scene: Scene;

/** A task worktree whose branch is on the remote, plus a developer clone of that branch. */
async function setUp({ pushBranch = true } = {}): Promise<Scene> {
  const root = await makeTempDir();
  const remote = await createRemote(root.path, { 'README.md': README });
  const repo = { name: 'widgets', remote: remote.path, targetBranch: 'main' };
  const worktrees = new Worktrees({ dataDir: join(root.path, 'data') });
  const made = await worktrees.ensureWorktree(repo, 't1', BRANCH);
  if (!made.ok) throw new Error(made.reason);
  let dev = '';
  if (pushBranch) {
    const pushed = await worktrees.push(repo, 't1');
    if (!pushed.ok) throw new Error(pushed.reason);
    dev = await cloneRemote(remote.path, join(root.path, 'dev'), BRANCH);
  }
  return { root: root.path, path: made.path, repoPath: worktrees.repoPath(repo), dev, cleanup: root.cleanup };
}

afterEach(async () => {
  await scene.cleanup();
});

const sync = (nowNs?: () => bigint): Promise<SyncOutcome> =>
  syncWorktree({ path: scene.path, branch: BRANCH, taskId: 't1', ...(nowNs ? { nowNs } : {}) });
const head = (cwd: string) => git(cwd, 'rev-parse', 'HEAD');
const status = (cwd: string) => git(cwd, 'status', '--porcelain', '--untracked-files=all');
const exists = (path: string) => stat(path).then(() => true, () => false);
const backupRefs = async () => (await git(scene.repoPath, 'for-each-ref', '--format=%(refname) %(objectname)', 'refs/conveyor')).split('\n').filter(Boolean);

/** Local and remote commits that both change line 1 of the README. */
async function conflict(mark: string): Promise<{ local: string; remote: string }> {
  const remote = await commitAndPush(scene.dev, { 'README.md': README.replace('line 1', `remote ${mark}`) }, `remote ${mark}`);
  const local = await commitFiles(scene.path, { 'README.md': README.replace('line 1', `local ${mark}`) }, `local ${mark}`);
  return { local, remote };
}

describe('syncWorktree', () => {
  beforeEach(async () => {
    scene = await setUp();
  });

  it('leaves a worktree that matches the remote alone', async () => {
    const before = await head(scene.path);
    expect(await sync()).toEqual({ outcome: 'in_sync', head: before, ahead: 0, remoteBranch: true });
    expect(await head(scene.path)).toBe(before);
  });

  it('reports local commits ahead of the remote as in sync without pushing them', async () => {
    const local = await commitFiles(scene.path, { 'work.txt': 'mine\n' }, 'local work');
    expect(await sync()).toEqual({ outcome: 'in_sync', head: local, ahead: 1, remoteBranch: true });
    expect(await git(scene.dev, 'ls-remote', 'origin', `refs/heads/${BRANCH}`)).not.toContain(local);
  });

  it('fast-forwards a worktree that is behind', async () => {
    const from = await head(scene.path);
    const to = await commitAndPush(scene.dev, { 'b.txt': 'from the remote\n' }, 'remote work');
    expect(await sync()).toEqual({ outcome: 'fast_forwarded', from, to });
    expect(await head(scene.path)).toBe(to);
    expect(await readWorkFile(scene.path, 'b.txt')).toBe('from the remote\n');
  });

  it('rebases diverged work that does not conflict and keeps uncommitted files uncommitted', async () => {
    const remote = await commitAndPush(scene.dev, { 'b.txt': 'remote\n' }, 'remote work');
    const local = await commitFiles(scene.path, { 'a.txt': 'local\n' }, 'local work');
    await writeFiles(scene.path, { 'notes.txt': 'not committed\n' });
    const outcome = await sync();
    expect(outcome).toMatchObject({ outcome: 'rebased', from: local });
    expect(outcome.outcome === 'rebased' && outcome.to).toBe(await head(scene.path));
    expect(await git(scene.path, 'rev-parse', 'HEAD~1')).toBe(remote);
    expect(await git(scene.path, 'log', '-1', '--format=%s')).toBe('local work');
    expect(await readWorkFile(scene.path, 'b.txt')).toBe('remote\n');
    expect(await status(scene.path)).toBe('?? notes.txt');
  });

  it('rebases uncommitted changes that block a fast-forward and leaves them uncommitted', async () => {
    const remote = await commitAndPush(scene.dev, { 'README.md': README.replace('line 1', 'remote 1') }, 'remote work');
    await writeFiles(scene.path, { 'README.md': README.replace('line 5', 'local 5') });
    expect(await sync()).toMatchObject({ outcome: 'rebased', to: remote });
    expect(await head(scene.path)).toBe(remote);
    expect(await readWorkFile(scene.path, 'README.md')).toBe(README.replace('line 1', 'remote 1').replace('line 5', 'local 5'));
    expect(await status(scene.path)).toBe('M README.md');
  });

  it('hard-resets a conflicting divergence after pinning local commits and uncommitted work under a backup ref', async () => {
    const { local, remote } = await conflict('1');
    await writeFiles(scene.path, { 'wip.txt': 'untracked work\n', 'README.md': 'edited but not committed\n' });
    const outcome = await sync();
    if (outcome.outcome !== 'hard_reset') throw new Error(`expected hard_reset, got ${JSON.stringify(outcome)}`);
    expect(outcome.from).toBe(local);
    expect(outcome.to).toBe(remote);
    expect(outcome.backupRef).toMatch(/^refs\/conveyor\/sync-recovery\/t1\/\d{19,}$/);
    const pinned = await git(scene.repoPath, 'rev-parse', outcome.backupRef);
    expect(await backupRefs()).toEqual([`${outcome.backupRef} ${pinned}`]);
    expect(await git(scene.path, 'show', `${outcome.backupRef}:wip.txt`)).toBe('untracked work');
    expect(await git(scene.path, 'show', `${outcome.backupRef}:README.md`)).toBe('edited but not committed');
    expect(await git(scene.path, 'show', `${outcome.backupRef}~1:README.md`)).toBe(README.replace('line 1', 'local 1').trim());
    expect(outcome.discardedShas).toEqual([pinned, local]);
    expect(await head(scene.path)).toBe(remote);
    expect(await status(scene.path)).toBe('');
    expect(await exists(join(scene.path, 'wip.txt'))).toBe(false);
  });

  it('reports reset_failed and leaves the worktree divergent when the rebase and the reset both fail', async () => {
    const { local, remote } = await conflict('1');
    // The hook runs after the backup commit and before the reset: it holds the worktree's index lock.
    const hooks = join(scene.root, 'hooks');
    await mkdir(hooks);
    await writeFile(join(hooks, 'pre-rebase'), '#!/bin/sh\ntouch "$(git rev-parse --git-dir)/index.lock"\nexit 1\n');
    await chmod(join(hooks, 'pre-rebase'), 0o755);
    await git(scene.repoPath, 'config', 'core.hooksPath', hooks);
    const outcome = await sync();
    if (outcome.outcome !== 'reset_failed') throw new Error(`expected reset_failed, got ${JSON.stringify(outcome)}`);
    expect(outcome.error).toMatch(/^sync: resetting to .* failed .*index\.lock/);
    expect(outcome.from).toBe(local);
    expect(outcome.discardedShas).toEqual([local]);
    expect(await git(scene.repoPath, 'rev-parse', outcome.backupRef)).toBe(local);
    expect(await head(scene.path)).toBe(local);
    expect(await git(scene.path, 'merge-base', 'HEAD', remote)).not.toBe(remote);
    await rm(join(await git(scene.path, 'rev-parse', '--absolute-git-dir'), 'index.lock'));
  });

  it('gives two recoveries at the same instant distinct backup refs', async () => {
    const now = () => 1_700_000_000_123_456_789n;
    const first = await conflict('1');
    const one = await sync(now);
    const second = await conflict('2');
    const two = await sync(now);
    expect(one).toMatchObject({ outcome: 'hard_reset', backupRef: 'refs/conveyor/sync-recovery/t1/1700000000123456789' });
    expect(two).toMatchObject({ outcome: 'hard_reset', backupRef: 'refs/conveyor/sync-recovery/t1/1700000000123456790' });
    expect(await backupRefs()).toEqual([
      `refs/conveyor/sync-recovery/t1/1700000000123456789 ${first.local}`,
      `refs/conveyor/sync-recovery/t1/1700000000123456790 ${second.local}`,
    ]);
  });
});

describe('syncWorktree before the branch is pushed', () => {
  beforeEach(async () => {
    scene = await setUp({ pushBranch: false });
  });

  it('is in sync and counts the commits no remote branch has', async () => {
    const local = await commitFiles(scene.path, { 'work.txt': 'mine\n' }, 'local work');
    expect(await sync()).toEqual({ outcome: 'in_sync', head: local, ahead: 1, remoteBranch: false });
  });
});
