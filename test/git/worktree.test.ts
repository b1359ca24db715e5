import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Worktrees } from '../../actors/git/index.ts';
import type { RepoSpec } from '../../actors/git/index.ts';
import {
  cloneRemote, commitAndPush, commitFiles, createRemote, git, isolateGitConfig, makeTempDir, readWorkFile, remoteHead,
} from './fixtures.ts';

let restoreEnv: () => void;
beforeAll(() => {
  restoreEnv = isolateGitConfig();
});
afterAll(() => restoreEnv());

let root: { path: string; cleanup: () => Promise<void> };
let remote: { path: string; head: string };
let repo: RepoSpec;
let dataDir: string;

beforeEach(async () => {
  root = await makeTempDir();
  remote = await createRemote(root.path);
  repo = { name: 'widgets', remote: remote.path, targetBranch: 'main' };
  dataDir = join(root.path, 'data');
});
afterEach(async () => {
  await root.cleanup();
});

const exists = (path: string) => stat(path).then(() => true, () => false);

describe('Worktrees', () => {
  it('clones the repository once for concurrent callers and leaves no partial clone behind', async () => {
    const worktrees = new Worktrees({ dataDir });
    const results = await Promise.all(Array.from({ length: 5 }, () => worktrees.ensureRepo(repo)));
    expect(results.every((result) => result.ok)).toBe(true);
    expect(await readdir(join(dataDir, 'repos'))).toEqual(['widgets.git']);
    const repoPath = worktrees.repoPath(repo);
    expect(await git(repoPath, 'rev-parse', 'refs/remotes/origin/main')).toBe(remote.head);
  });

  it('creates the task branch from the target branch and checks it out in the task worktree', async () => {
    const worktrees = new Worktrees({ dataDir });
    const result = await worktrees.ensureWorktree(repo, 't1', 'conveyor/t1');
    expect(result).toEqual({
      ok: true, path: join(dataDir, 'worktrees', 't1'), branch: 'conveyor/t1', head: remote.head, created: true,
    });
    const path = worktrees.worktreePath('t1');
    expect(await git(path, 'symbolic-ref', '--short', 'HEAD')).toBe('conveyor/t1');
    expect(await readWorkFile(path, 'README.md')).toBe('conveyor fixture\n');
  });

  it('starts from the remote branch when the remote already has it', async () => {
    const dev = await cloneRemote(remote.path, join(root.path, 'dev'));
    await git(dev, 'checkout', '--quiet', '-b', 'conveyor/t1');
    const pushed = await commitAndPush(dev, { 'feature.txt': 'started elsewhere\n' }, 'start the feature');
    const result = await new Worktrees({ dataDir }).ensureWorktree(repo, 't1', 'conveyor/t1');
    expect(result.ok && result.head).toBe(pushed);
  });

  it('makes one worktree and one branch for ten racing calls', async () => {
    const worktrees = new Worktrees({ dataDir });
    const results = await Promise.all(Array.from({ length: 10 }, () => worktrees.ensureWorktree(repo, 't1', 'conveyor/t1')));
    expect(results.every((result) => result.ok)).toBe(true);
    expect(results.filter((result) => result.ok && result.created)).toHaveLength(1);
    const repoPath = worktrees.repoPath(repo);
    const listed = await git(repoPath, 'worktree', 'list', '--porcelain');
    expect(listed.split('\n').filter((line) => line.startsWith('worktree ') && line.endsWith('/t1'))).toHaveLength(1);
    expect(await git(repoPath, 'for-each-ref', '--format=%(refname)', 'refs/heads/conveyor')).toBe('refs/heads/conveyor/t1');
  });

  it('reuses the worktree after a restart, keeping its local commits', async () => {
    const first = await new Worktrees({ dataDir }).ensureWorktree(repo, 't1', 'conveyor/t1');
    if (!first.ok) throw new Error(first.reason);
    const local = await commitFiles(first.path, { 'work.txt': 'in progress\n' }, 'local work');
    const again = await new Worktrees({ dataDir }).ensureWorktree(repo, 't1', 'conveyor/t1');
    expect(again).toEqual({ ok: true, path: first.path, branch: 'conveyor/t1', head: local, created: false });
  });

  it('refuses a second branch for a task that already has a worktree', async () => {
    const worktrees = new Worktrees({ dataDir });
    await worktrees.ensureWorktree(repo, 't1', 'conveyor/t1');
    const other = await worktrees.ensureWorktree(repo, 't1', 'conveyor/other');
    expect(other.ok).toBe(false);
  });

  it('refuses task ids that would escape the data directory', async () => {
    const result = await new Worktrees({ dataDir }).ensureWorktree(repo, '../escape', 'conveyor/x');
    expect(result).toEqual({ ok: false, reason: 'worktree: invalid task id "../escape"' });
    expect(await exists(join(root.path, 'escape'))).toBe(false);
  });

  it('removes the worktree but keeps the branch, and removing it again is fine', async () => {
    const worktrees = new Worktrees({ dataDir });
    const made = await worktrees.ensureWorktree(repo, 't1', 'conveyor/t1');
    if (!made.ok) throw new Error(made.reason);
    expect(await worktrees.removeWorktree(repo, 't1')).toEqual({ ok: true, removed: true });
    expect(await exists(made.path)).toBe(false);
    const repoPath = worktrees.repoPath(repo);
    expect(await git(repoPath, 'worktree', 'list', '--porcelain')).not.toContain('/t1');
    expect(await git(repoPath, 'rev-parse', 'refs/heads/conveyor/t1')).toBe(made.head);
    expect(await worktrees.removeWorktree(repo, 't1')).toEqual({ ok: true, removed: false });
  });

  it('pushes the task branch to origin', async () => {
    const worktrees = new Worktrees({ dataDir });
    const made = await worktrees.ensureWorktree(repo, 't1', 'conveyor/t1');
    if (!made.ok) throw new Error(made.reason);
    const local = await commitFiles(made.path, { 'work.txt': 'done\n' }, 'finish the work');
    expect(await worktrees.push(repo, 't1')).toEqual({ ok: true, branch: 'conveyor/t1', head: local });
    expect(await remoteHead(remote.path, 'conveyor/t1')).toBe(local);
  });

  it('reports an unreachable remote as a value', async () => {
    const result = await new Worktrees({ dataDir }).ensureWorktree(
      { ...repo, remote: join(root.path, 'missing.git') }, 't1', 'conveyor/t1',
    );
    expect(result.ok).toBe(false);
    expect(!result.ok && result.reason).toMatch(/^worktree: cloning .*missing\.git failed/);
  });
});
