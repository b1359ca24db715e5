import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

// Git configuration of the machine running the tests (signing, hooks, default branch) must not leak in.
const ISOLATED: Record<string, string> = { GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1' };
const REPOSITORY_VARIABLES = ['GIT_DIR', 'GIT_WORK_TREE', 'GIT_INDEX_FILE', 'GIT_COMMON_DIR', 'GIT_OBJECT_DIRECTORY'];

function fixtureEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of REPOSITORY_VARIABLES) delete env[name];
  return {
    ...env,
    ...ISOLATED,
    GIT_TERMINAL_PROMPT: '0',
    GIT_AUTHOR_NAME: 'fixture',
    GIT_AUTHOR_EMAIL: 'fixture@localhost',
    GIT_COMMITTER_NAME: 'fixture',
    GIT_COMMITTER_EMAIL: 'fixture@localhost',
  };
}

/** Hides the global and system git configuration from this process (and conveyor's git); returns the undo. */
export function isolateGitConfig(): () => void {
  const saved = Object.fromEntries(Object.keys(ISOLATED).map((name) => [name, process.env[name]]));
  Object.assign(process.env, ISOLATED);
  return () => {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  };
}

/** Runs git in `cwd` and returns its trimmed stdout; throws with stderr when git fails. */
export function git(cwd: string, ...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('git', args, { cwd, env: fixtureEnv(), encoding: 'utf8' }, (error, stdout, stderr) => {
      if (error) reject(new Error(`fixtures: git ${args.join(' ')} in ${cwd} failed: ${stderr.trim()}`));
      else resolve(stdout.trim());
    });
  });
}

/** Makes a temporary directory; `cleanup` removes it with everything in it. */
export async function makeTempDir(prefix = 'conveyor-git-'): Promise<{ path: string; cleanup: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return { path, cleanup: () => rm(path, { recursive: true, force: true }) };
}

/** Writes files (creating folders) relative to `cwd`. */
export async function writeFiles(cwd: string, files: Record<string, string>): Promise<void> {
  for (const [name, content] of Object.entries(files)) {
    await mkdir(dirname(join(cwd, name)), { recursive: true });
    await writeFile(join(cwd, name), content);
  }
}

/** Reads a file of a working tree. */
export function readWorkFile(cwd: string, name: string): Promise<string> {
  return readFile(join(cwd, name), 'utf8');
}

/** Writes files, commits all changes and returns the new commit's sha. */
export async function commitFiles(cwd: string, files: Record<string, string>, message: string): Promise<string> {
  await writeFiles(cwd, files);
  await git(cwd, 'add', '--all');
  await git(cwd, 'commit', '--quiet', '--no-verify', '-m', message);
  return git(cwd, 'rev-parse', 'HEAD');
}

/** A bare repository at `<root>/remote.git` whose `main` has one commit with `files`. */
export async function createRemote(
  root: string,
  files: Record<string, string> = { 'README.md': 'conveyor fixture\n' },
): Promise<{ path: string; head: string }> {
  const path = join(root, 'remote.git');
  await git(root, 'init', '--quiet', '--bare', '--initial-branch=main', path);
  const seed = join(root, 'seed');
  await git(root, 'init', '--quiet', '--initial-branch=main', seed);
  const head = await commitFiles(seed, files, 'initial commit');
  await git(seed, 'push', '--quiet', path, 'main:main');
  await rm(seed, { recursive: true, force: true });
  return { path, head };
}

/** A developer's clone of `remote` in `dir`, on `branch`. */
export async function cloneRemote(remote: string, dir: string, branch = 'main'): Promise<string> {
  await git(dirname(dir), 'clone', '--quiet', '--branch', branch, remote, dir);
  return dir;
}

/** Commits `files` in a developer's clone and pushes its current branch. */
export async function commitAndPush(clone: string, files: Record<string, string>, message: string): Promise<string> {
  const sha = await commitFiles(clone, files, message);
  await git(clone, 'push', '--quiet', 'origin', 'HEAD');
  return sha;
}

/** The sha `branch` has on `remote`, or null when the remote has no such branch. */
export async function remoteHead(remote: string, branch: string): Promise<string | null> {
  const line = await git(dirname(remote), 'ls-remote', remote, `refs/heads/${branch}`);
  return line ? (line.split(/\s+/)[0] ?? null) : null;
}
