import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { describeFailure, runGit, type RepoSpec } from '../../actors/index.ts';

/** The name under which the demo's repository is known to conveyor, the tracker and the forge. */
export const DEMO_REPO = 'demo';

const README = `# demo

The repository conveyor's demo works on. Each task's developer agent adds a note under work/.
`;

// A fixed identity: the demo must run where git has no user configured at all.
const IDENTITY = {
  GIT_AUTHOR_NAME: 'conveyor demo',
  GIT_AUTHOR_EMAIL: 'demo@conveyor.invalid',
  GIT_COMMITTER_NAME: 'conveyor demo',
  GIT_COMMITTER_EMAIL: 'demo@conveyor.invalid',
};

/** The path of the demo's bare repository, the remote the simulated forge hosts. */
export function demoRemotePath(dataDir: string): string {
  return join(resolve(dataDir), 'demo', 'remote.git');
}

/** The demo repository as conveyor's workbench knows it. */
export function demoRepoSpec(dataDir: string): RepoSpec {
  return { name: DEMO_REPO, remote: demoRemotePath(dataDir), targetBranch: 'main' };
}

export type EnsureDemoRepoResult = { ok: true; path: string; created: boolean } | { ok: false; reason: string };

/**
 * Creates the bare repository `<dataDir>/demo/remote.git` with one commit on `main` (README.md), once;
 * later calls find it. It is built beside its final path and renamed, so an interrupted run leaves no half-made repository.
 */
export async function ensureDemoRepo(dataDir: string): Promise<EnsureDemoRepoResult> {
  const path = demoRemotePath(dataDir);
  if (await exists(path)) {
    const main = await runGit(['rev-parse', '--verify', '--quiet', 'refs/heads/main'], { cwd: path });
    if (main.ok) return { ok: true, path, created: false };
    return { ok: false, reason: `demo: ${path} exists but has no main branch; remove it to start over` };
  }
  await mkdir(dirname(path), { recursive: true });
  const temp = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  const made = await seed(temp);
  if (!made.ok) {
    await rm(temp, { recursive: true, force: true });
    await rm(`${temp}-seed`, { recursive: true, force: true });
    return made;
  }
  try {
    await rename(temp, path);
  } catch {
    // Another process made it first; its copy is as good as ours.
    await rm(temp, { recursive: true, force: true });
  }
  return { ok: true, path, created: true };
}

/** A bare repository whose `main` holds README.md, committed from a throwaway work tree. */
async function seed(bare: string): Promise<{ ok: true } | { ok: false; reason: string }> {
  const work = `${bare}-seed`;
  await mkdir(work, { recursive: true });
  await writeFile(join(work, 'README.md'), README);
  const inRepo = ['--git-dir', bare, '--work-tree', work];
  const steps: [string, string[]][] = [
    ['init', ['init', '--bare', '--quiet', bare]],
    ['naming main', ['--git-dir', bare, 'symbolic-ref', 'HEAD', 'refs/heads/main']],
    ['adding README.md', [...inRepo, 'add', 'README.md']],
    ['committing', [...inRepo, 'commit', '--quiet', '--no-verify', '-m', 'Initial commit']],
  ];
  for (const [what, args] of steps) {
    const result = await runGit(args, { cwd: dirname(bare), env: IDENTITY });
    if (!result.ok) return { ok: false, reason: `demo: ${describeFailure(`creating the demo repository (${what})`, result)}` };
  }
  // A bare repository keeps no index; the one `add` left behind would only confuse a reader.
  await rm(join(bare, 'index'), { force: true });
  await rm(work, { recursive: true, force: true });
  return { ok: true };
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}
