import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ForgeClient, MergeQueue, NonRetriableError, Worktrees, type MergeOutcome, type RepoSpec } from '../../actors/index.ts';
import { cloneRemote, commitAndPush, createRemote, git, isolateGitConfig, makeTempDir, remoteHead } from '../git/fixtures.ts';
import { ForgeDouble } from '../support/forge-double.ts';

let restoreGit: () => void;
beforeAll(() => {
  restoreGit = isolateGitConfig();
});
afterAll(() => restoreGit());

interface World {
  root: string;
  remote: string;
  dev: string;
  double: ForgeDouble;
  queue: MergeQueue;
  worktrees: Worktrees;
  repo: RepoSpec;
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function world(): Promise<World> {
  const tmp = await makeTempDir('conveyor-merge-');
  cleanups.push(tmp.cleanup);
  const remote = (await createRemote(tmp.path, { 'README.md': 'shop\n', 'app.txt': 'v1\n' })).path;
  const dev = await cloneRemote(remote, join(tmp.path, 'dev'));
  const double = await ForgeDouble.start({ bareRepo: remote });
  cleanups.push(() => double.close());
  const queue = new MergeQueue({ forge: new ForgeClient({ repos: { shop: double.config() } }) });
  const worktrees = new Worktrees({ dataDir: join(tmp.path, 'data') });
  return { root: tmp.path, remote, dev, double, queue, worktrees, repo: { name: 'shop', remote, targetBranch: 'main' } };
}

/** A branch off main's current head with one commit, pushed, with its pull request open on the double. */
async function featureBranch(w: World, branch: string, files: Record<string, string>) {
  await git(w.dev, 'fetch', '--quiet', 'origin');
  await git(w.dev, 'checkout', '--quiet', '-B', branch, 'origin/main');
  const sha = await commitAndPush(w.dev, files, `work on ${branch}`);
  await git(w.dev, 'push', '--quiet', '-u', 'origin', branch);
  const pr = w.double.addPullRequest({ head: branch });
  return { branch, sha, pr: pr.number };
}

async function advanceMain(w: World, files: Record<string, string>) {
  await git(w.dev, 'fetch', '--quiet', 'origin');
  await git(w.dev, 'checkout', '--quiet', '-B', 'main', 'origin/main');
  return commitAndPush(w.dev, files, 'someone else lands first');
}

async function mergeOf(w: World, taskId: string, f: { branch: string; pr: number }): Promise<MergeOutcome> {
  const wt = await w.worktrees.ensureWorktree(w.repo, taskId, f.branch);
  if (!wt.ok) throw new Error(wt.reason);
  return w.queue.merge({ taskId, repo: 'shop', targetBranch: 'main', branch: f.branch, pr: f.pr, worktree: wt.path }, new AbortController().signal);
}

const mergeCommits = async (w: World) => (await git(w.remote, 'log', '--merges', '--format=%s', 'main')).split('\n').filter(Boolean);

describe('MergeQueue', () => {
  it('merges a branch that is up to date without rewriting or pushing it', async () => {
    const w = await world();
    const f = await featureBranch(w, 'feature-a', { 'a.txt': 'a\n' });
    const out = await mergeOf(w, 'ta', f);
    expect(out).toMatchObject({ merged: true, head: f.sha, rebased: false, pushed: false, alreadyMerged: false });
    expect(await remoteHead(w.remote, 'feature-a')).toBe(f.sha);
    expect(out.mergeSha).toBe(await remoteHead(w.remote, 'main'));
    expect(await mergeCommits(w)).toEqual([`Merge pull request #${f.pr} from feature-a`]);
  });

  it('rebases a branch behind the target, pushes it with a lease and merges the new head', async () => {
    const w = await world();
    const f = await featureBranch(w, 'feature-b', { 'b.txt': 'b\n' });
    const landed = await advanceMain(w, { 'other.txt': 'other\n' });
    const out = await mergeOf(w, 'tb', f);
    expect(out).toMatchObject({ merged: true, rebased: true, pushed: true });
    const pushed = await remoteHead(w.remote, 'feature-b');
    expect(pushed).not.toBe(f.sha);
    expect(out.head).toBe(pushed);
    expect(await git(w.remote, 'rev-parse', `${pushed}^`)).toBe(landed);
    expect(await git(w.remote, 'show', 'main:b.txt')).toBe('b');
    expect(w.double.prs.get(f.pr)).toMatchObject({ merged: true, merges: 1 });
  });

  it('fails for good on a rebase conflict, names the files and leaves branch and worktree as they were', async () => {
    const w = await world();
    const f = await featureBranch(w, 'feature-c', { 'app.txt': 'v2 from the feature\n' });
    await advanceMain(w, { 'app.txt': 'v2 from main\n' });
    const wt = await w.worktrees.ensureWorktree(w.repo, 'tc', f.branch);
    if (!wt.ok) throw new Error(wt.reason);
    const merging = w.queue.merge({ taskId: 'tc', repo: 'shop', targetBranch: 'main', branch: f.branch, pr: f.pr, worktree: wt.path }, new AbortController().signal);
    await expect(merging).rejects.toBeInstanceOf(NonRetriableError);
    await expect(merging).rejects.toThrow(/conflicts in app\.txt/);
    expect(await git(wt.path, 'rev-parse', 'HEAD')).toBe(f.sha);
    expect(await git(wt.path, 'status', '--porcelain')).toBe('');
    expect(await remoteHead(w.remote, 'feature-c')).toBe(f.sha);
    expect(w.double.prs.get(f.pr)).toMatchObject({ merged: false, mergeCalls: 0 });
  });

  it('serializes merges of one repository, rebasing each onto the one merged before it', async () => {
    const w = await world();
    const one = await featureBranch(w, 'feature-1', { 'one.txt': '1\n' });
    const two = await featureBranch(w, 'feature-2', { 'two.txt': '2\n' });
    let inside = 0;
    let most = 0;
    w.double.hooks.onMergeCall = () => {
      inside++;
      most = Math.max(most, inside);
    };
    w.double.hooks.afterMerge = () => {
      inside--;
    };
    const [a, b] = await Promise.all([mergeOf(w, 't1', one), mergeOf(w, 't2', two)]);
    expect(most).toBe(1);
    // Whichever got the repository's turn first merged as it was; the other was rebased onto that merge.
    const [earlier, later] = a.rebased ? [{ out: b, f: two }, { out: a, f: one }] : [{ out: a, f: one }, { out: b, f: two }];
    expect(earlier.out.rebased).toBe(false);
    expect(later.out.rebased).toBe(true);
    expect(await git(w.remote, 'merge-base', '--is-ancestor', earlier.out.mergeSha!, later.out.head).then(() => true, () => false)).toBe(true);
    expect(await mergeCommits(w)).toEqual([
      `Merge pull request #${later.f.pr} from ${later.f.branch}`,
      `Merge pull request #${earlier.f.pr} from ${earlier.f.branch}`,
    ]);
  });

  it('does not merge a pull request the forge already shows merged', async () => {
    const w = await world();
    const f = await featureBranch(w, 'feature-d', { 'd.txt': 'd\n' });
    const first = await mergeOf(w, 'td', f);
    const second = await mergeOf(w, 'td', f);
    expect(second).toMatchObject({ merged: true, alreadyMerged: true, mergeSha: first.mergeSha });
    expect(w.double.prs.get(f.pr)).toMatchObject({ merges: 1, mergeCalls: 1 });
    expect(await mergeCommits(w)).toHaveLength(1);
  });

  it('confirms a merge whose answer was lost by reading the pull request back', async () => {
    const w = await world();
    const f = await featureBranch(w, 'feature-e', { 'e.txt': 'e\n' });
    w.double.failMerges(1, { status: 502, message: 'bad gateway', after: true });
    const out = await mergeOf(w, 'te', f);
    expect(out).toMatchObject({ merged: true, alreadyMerged: true });
    expect(out.mergeSha).toBe(await remoteHead(w.remote, 'main'));
    expect(w.double.prs.get(f.pr)).toMatchObject({ merges: 1, mergeCalls: 1 });
  });

  it('fails for good when the forge refuses the merge and the pull request stays unmerged', async () => {
    const w = await world();
    const f = await featureBranch(w, 'feature-f', { 'f.txt': 'f\n' });
    w.double.failMerges(1, { status: 405, message: 'Please try again later: required checks are not green' });
    const merging = mergeOf(w, 'tf', f);
    await expect(merging).rejects.toBeInstanceOf(NonRetriableError);
    await expect(merging).rejects.toThrow(/required checks are not green/);
    expect(await mergeCommits(w)).toHaveLength(0);
  });
});
