import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Worktrees, type EnsureWorktreeResult } from '../../actors/index.ts';
import { createRemote, git, isolateGitConfig, makeTempDir } from './fixtures.ts';
import { seededRandom } from '../support/seeded-random.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const CHILD = 'test/support/worktree-adds-child.ts';
const KILLS = 20;
const TASKS_PER_RUN = 2;

let restoreGit: () => void;
beforeAll(() => {
  restoreGit = isolateGitConfig();
});
afterAll(() => restoreGit());

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/**
 * Runs the child that adds worktrees for `tasks`, in a process group of its own, and kills the whole
 * group (conveyor and the git commands it started, as a kill of its service does) `killAfterMs` after
 * it starts adding; resolves whether it was killed before it finished, and how long it was adding.
 */
async function runAndKill(args: { dataDir: string; remote: string; tasks: string[] }, killAfterMs: number): Promise<{ cut: boolean; addingMs: number }> {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, JSON.stringify(args)], { cwd: ROOT, env: process.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let output = '';
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  const adding = new Promise<void>((started) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('ADDING')) started();
    });
  });
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  await Promise.race([adding, exited]);
  const since = Date.now();
  await Promise.race([delay(killAfterMs), exited]);
  const finished = output.includes('RESULT');
  try {
    process.kill(-child.pid!, 'SIGKILL');
  } catch {
    // The group is gone already.
  }
  await exited;
  return { cut: !finished, addingMs: Date.now() - since };
}

describe('worktree adds interrupted by a kill -9', () => {
  it('leave nothing that keeps any task, interrupted or not, from getting its worktree after a restart', async () => {
    const tmp = await makeTempDir('conveyor-adds-');
    cleanups.push(tmp.cleanup);
    const remote = (await createRemote(tmp.path, { 'README.md': 'shop\n' })).path;
    const dataDir = join(tmp.path, 'data');
    const random = seededRandom(9);
    const tasks: string[] = [];
    let interrupted = 0;
    // The first run is not cut short: how long its adds take sets the window the kills fall in.
    let window = 0;
    for (let run = 0; run <= KILLS; run++) {
      const fresh = Array.from({ length: TASKS_PER_RUN }, (_, i) => `r${run}t${i}`);
      // Each run also retries a task an earlier run may have left half made.
      const again = run > 0 ? [tasks[Math.floor(random() * tasks.length)]!] : [];
      tasks.push(...fresh);
      const killAfter = run === 0 ? 120_000 : Math.floor(window * (0.1 + random()));
      const { cut, addingMs } = await runAndKill({ dataDir, remote, tasks: [...fresh, ...again] }, killAfter);
      if (run === 0) window = addingMs;
      else if (cut) interrupted++;
    }
    // Runs were cut short in the middle of their adds (on a broken repository, others fail fast).
    expect(interrupted).toBeGreaterThanOrEqual(KILLS / 4);

    // The restart: a new process repairs at start (as conveyor does), then adds every task's worktree and one no run has seen.
    const worktrees = new Worktrees({ dataDir });
    const repo = { name: 'shop', remote, targetBranch: 'main' };
    await worktrees.repair(repo);
    const all = [...tasks, 'after-restart'];
    const results: EnsureWorktreeResult[] = await Promise.all(all.map((taskId) => worktrees.ensureWorktree(repo, taskId, `conveyor/${taskId}`)));
    const failed = results.map((r, i) => [all[i], r] as const).filter(([, r]) => !r.ok);
    expect(failed).toEqual([]);
    for (const taskId of all) {
      expect(await git(worktrees.worktreePath(taskId), 'symbolic-ref', '--short', 'HEAD')).toBe(`conveyor/${taskId}`);
    }
  }, 300_000);
});
