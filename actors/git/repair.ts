import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { runGit } from './run-git.ts';

// What `git worktree add` writes as HEAD before it points HEAD at the branch: a null object id.
const NULL_HEAD = /^0{40}(0{24})?\s*$/;

/**
 * Clears what an interrupted `git worktree add` left in a repository: metadata without its
 * `commondir`, `gitdir` or a real HEAD (fetch and every later add fail on it), and entries still locked
 * "initializing" (which `git worktree prune` skips). A half-made entry goes with its worktree directory
 * when that lies under `worktreesDir`; one whose checkout finished is only unlocked. Then prunes. Call
 * it only while no add runs in the repository.
 */
export async function repairWorktrees(repoPath: string, worktreesDir: string): Promise<void> {
  const metadata = join(repoPath, 'worktrees');
  for (const name of await readdir(metadata).catch(() => [] as string[])) {
    const entry = join(metadata, name);
    const read = (file: string) => readFile(join(entry, file), 'utf8').catch(() => null);
    const [commondir, gitdir, head, locked] = await Promise.all([read('commondir'), read('gitdir'), read('HEAD'), read('locked')]);
    const initializing = locked?.includes('initializing') ?? false;
    const halfMade = commondir === null || gitdir === null || head === null || NULL_HEAD.test(head)
      // Locked by add and no index yet: the checkout did not finish.
      || (initializing && !(await exists(join(entry, 'index'))));
    if (halfMade) {
      await rm(entry, { recursive: true, force: true });
      const worktree = gitdir?.trim() ? dirname(resolve(metadata, gitdir.trim())) : join(worktreesDir, name);
      if (worktree.startsWith(resolve(worktreesDir) + sep)) await rm(worktree, { recursive: true, force: true });
    } else if (initializing) {
      await rm(join(entry, 'locked'), { force: true });
    }
  }
  await runGit(['worktree', 'prune'], { cwd: repoPath });
}

/**
 * Removes the lock files a killed git left in a repository (refs, packed-refs, config, HEAD, the
 * worktrees' index and HEAD), which make every later command that takes them fail. Only at start,
 * before conveyor runs any git there: a lock held by a live git must not be taken away.
 */
export async function removeStaleLocks(repoPath: string): Promise<void> {
  const locks = [
    ...(await lockFiles(repoPath, false)),
    ...(await lockFiles(join(repoPath, 'refs'), true)),
    ...(await lockFiles(join(repoPath, 'worktrees'), true)),
  ];
  await Promise.all(locks.map((path) => rm(path, { force: true })));
}

async function lockFiles(dir: string, recursive: boolean): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive }).catch(() => []);
  return entries.filter((e) => e.isFile() && e.name.endsWith('.lock')).map((e) => join(e.parentPath, e.name));
}

/** Whether a directory is a leftover of an add into `repoPath`: empty, or holding a `.git` file that points into its worktree metadata. */
export async function isAddLeftover(path: string, repoPath: string): Promise<boolean> {
  const names = await readdir(path).catch(() => null);
  if (names === null || names.length === 0) return true;
  const dotGit = await readFile(join(path, '.git'), 'utf8').catch(() => '');
  const match = /^gitdir: (.+)$/m.exec(dotGit);
  return match !== null && resolve(path, match[1]!.trim()).startsWith(join(resolve(repoPath), 'worktrees') + sep);
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}
