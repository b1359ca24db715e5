import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, mkdir, readFile, realpath, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { CommandExecutor, isAlive, readLogTail, reattach, truncationMarker } from '../../actors/executors/index.ts';
import type { JobExit, JobSpec, RunningJob } from '../../actors/executors/index.ts';
import { exitFilePath } from '../../actors/executors/command-executor.ts';
import { readExitFile } from '../../actors/executors/process-alive.ts';
import { killGroups } from '../support/process-groups.ts';

const node = process.execPath;
const ROOT = resolve(import.meta.dirname, '../..');
let dir: string;
const groups: number[] = [];

function specFor(over: Partial<JobSpec> = {}): JobSpec {
  return {
    jobId: 'job-7',
    taskId: 'task-1',
    stage: 'development',
    agent: 'developer',
    repo: 'acme/shop',
    branch: 'conveyor/task-1',
    attempt: 2,
    cwd: dir,
    timeoutMs: 20_000,
    apiBase: 'http://127.0.0.1:7070',
    token: 'tok-secret',
    logPath: join(dir, 'logs', 'job-7.log'),
    ...over,
  };
}

function track(job: RunningJob): RunningJob {
  if (job.pid !== null) groups.push(job.pid);
  return job;
}

async function waitFor(what: string, predicate: () => boolean | Promise<boolean>): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (await predicate()) return;
    await sleep(25);
  }
  throw new Error(`gave up waiting: ${what}`);
}

async function readPid(file: string): Promise<number> {
  await waitFor(`${file} is written`, async () => existsSync(file) && (await readFile(file, 'utf8')).trim() !== '');
  return Number((await readFile(file, 'utf8')).trim());
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'conveyor-exec-'));
});

afterEach(async () => {
  killGroups(groups);
  await rm(dir, { recursive: true, force: true });
});

describe('CommandExecutor', () => {
  it('reports exit code 0', async () => {
    const job = track(new CommandExecutor({ command: [node, '-e', 'process.exit(0)'] }).start(specFor()));
    expect(job.pid).toBeGreaterThan(0);
    expect(await job.exit).toMatchObject({ kind: 'exited', code: 0, signal: null });
  });

  it('reports exit code 3', async () => {
    const job = track(new CommandExecutor({ command: 'exit 3' }).start(specFor()));
    expect(await job.exit).toMatchObject({ kind: 'exited', code: 3, signal: null });
  });

  it('records start and finish times from its clock', async () => {
    let t = 1000;
    const clock = { now: () => (t += 10) };
    const job = track(new CommandExecutor({ command: 'true', clock }).start(specFor()));
    const exit = await job.exit;
    expect(job.startedAt).toBe(1010);
    expect(exit.finishedAt).toBeGreaterThan(job.startedAt);
  });

  it('names the task, stage, branch, repo, attempt, API, job and token in the environment', async () => {
    const script = "require('fs').writeFileSync('env.json', JSON.stringify(process.env))";
    const spec = specFor({ env: { EXTRA: 'yes', CONVEYOR_TOKEN: 'forged' } });
    const job = track(new CommandExecutor({ command: [node, '-e', script] }).start(spec));
    expect(await job.exit).toMatchObject({ kind: 'exited', code: 0 });
    const env = JSON.parse(await readFile(join(dir, 'env.json'), 'utf8')) as Record<string, string>;
    expect(env).toMatchObject({
      CONVEYOR_TASK_ID: 'task-1',
      CONVEYOR_STAGE: 'development',
      CONVEYOR_AGENT: 'developer',
      CONVEYOR_BRANCH: 'conveyor/task-1',
      CONVEYOR_REPO: 'acme/shop',
      CONVEYOR_ATTEMPT: '2',
      CONVEYOR_API: 'http://127.0.0.1:7070',
      CONVEYOR_JOB_ID: 'job-7',
      CONVEYOR_TOKEN: 'tok-secret',
      EXTRA: 'yes',
    });
    expect(env.PATH).toBe(process.env.PATH);
  });

  it('runs the agent in the job working directory', async () => {
    const worktree = join(dir, 'worktree');
    await mkdir(worktree);
    const job = track(new CommandExecutor({ command: 'pwd -P > cwd.txt' }).start(specFor({ cwd: worktree })));
    expect(await job.exit).toMatchObject({ kind: 'exited', code: 0 });
    expect((await readFile(join(worktree, 'cwd.txt'), 'utf8')).trim()).toBe(await realpath(worktree));
  });

  it('writes stdout and stderr to the log file', async () => {
    const job = track(new CommandExecutor({ command: 'echo to-out; echo to-err >&2' }).start(specFor()));
    await job.exit;
    const log = await readFile(specFor().logPath, 'utf8');
    expect(log).toContain('to-out\n');
    expect(log).toContain('to-err\n');
  });

  it('kills the whole process group on timeout, grandchild included', async () => {
    const spec = specFor({ timeoutMs: 1500 });
    const job = track(new CommandExecutor({ command: 'sleep 100 & echo $! > grandchild.pid; sleep 100' }).start(spec));
    const grandchild = await readPid(join(dir, 'grandchild.pid'));
    expect(isAlive(grandchild)).toBe(true);
    expect(await job.exit).toMatchObject({ kind: 'timed_out' });
    await job.cleared;
    expect(isAlive(grandchild)).toBe(false);
    expect(isAlive(job.pid ?? 0)).toBe(false);
    expect(await readFile(spec.logPath, 'utf8')).toContain('timed out after 1500 ms');
  });

  it('escalates to SIGKILL when the group ignores SIGTERM', async () => {
    const spec = specFor({ timeoutMs: 1500 });
    const command = "trap '' TERM; sleep 100 & echo $! > grandchild.pid; wait";
    const job = track(new CommandExecutor({ command, killGraceMs: 200 }).start(spec));
    const grandchild = await readPid(join(dir, 'grandchild.pid'));
    expect(await job.exit).toMatchObject({ kind: 'timed_out' });
    await job.cleared;
    expect(isAlive(grandchild)).toBe(false);
  });

  it('reports SIGKILL when the agent is killed from outside', async () => {
    const job = track(new CommandExecutor({ command: ['sleep', '100'] }).start(specFor()));
    process.kill(job.pid ?? 0, 'SIGKILL');
    expect(await job.exit).toMatchObject({ kind: 'exited', code: null, signal: 'SIGKILL' });
  });

  it('kills the process group on kill() and logs the reason', async () => {
    const spec = specFor();
    const job = track(new CommandExecutor({ command: 'sleep 100 & echo $! > grandchild.pid; sleep 100' }).start(spec));
    const grandchild = await readPid(join(dir, 'grandchild.pid'));
    job.kill('task cancelled');
    expect(await job.exit).toMatchObject({ kind: 'exited', code: null, signal: 'SIGTERM' });
    await job.cleared;
    expect(isAlive(grandchild)).toBe(false);
    expect(await readFile(spec.logPath, 'utf8')).toContain('killed: task cancelled');
  });

  it('kills what the agent left running in its group when it exits', async () => {
    const job = track(new CommandExecutor({ command: 'sleep 100 & echo $! > grandchild.pid' }).start(specFor()));
    expect(await job.exit).toMatchObject({ kind: 'exited', code: 0 });
    await job.cleared;
    expect(isAlive(await readPid(join(dir, 'grandchild.pid')))).toBe(false);
  });

  it("takes the agent's exit at once while a helper that ignores SIGTERM is still in its kill grace", async () => {
    // The helper ignores SIGTERM before the agent goes on, and holds none of the relay's pipes.
    const command = "( trap '' TERM; : > ready; exec sleep 100 ) >/dev/null 2>&1 & echo $! > helper.pid; while [ ! -e ready ]; do sleep 0.01; done; exit 0";
    const job = track(new CommandExecutor({ command, killGraceMs: 1500 }).start(specFor()));
    expect(await job.exit).toMatchObject({ kind: 'exited', code: 0 });
    const helper = await readPid(join(dir, 'helper.pid'));
    expect(isAlive(helper)).toBe(true);
    await job.cleared;
    expect(isAlive(helper)).toBe(false);
  });

  it('bounds the log and keeps draining a child that writes 5 MiB', async () => {
    const limit = 64 * 1024;
    const script = [
      "const chunk = Buffer.alloc(64 * 1024, 'x');",
      'for (let i = 0; i < 80; i++) process.stdout.write(chunk);',
      "require('fs').writeFileSync('finished', 'yes');",
    ].join('\n');
    const spec = specFor();
    const job = track(new CommandExecutor({ command: [node, '-e', script], maxLogBytes: limit }).start(spec));
    expect(await job.exit).toMatchObject({ kind: 'exited', code: 0 });
    expect(existsSync(join(dir, 'finished'))).toBe(true);
    const marker = truncationMarker(limit);
    expect((await stat(spec.logPath)).size).toBeLessThanOrEqual(limit + Buffer.byteLength(marker));
    const log = await readFile(spec.logPath, 'utf8');
    expect(log.startsWith('x'.repeat(1000))).toBe(true);
    expect(log.split(marker.trim()).length).toBe(2);
  });

  it('reports spawn_failed for a missing binary', async () => {
    const spec = specFor();
    const job = track(new CommandExecutor({ command: [join(dir, 'no-such-agent'), '--run'] }).start(spec));
    const exit = await job.exit;
    // The pid is the relay's, which started; only the agent behind it could not.
    expect(job.pid).toBeGreaterThan(0);
    expect(exit.kind).toBe('spawn_failed');
    expect(exit.kind === 'spawn_failed' && exit.error).toContain('ENOENT');
    expect(await readFile(spec.logPath, 'utf8')).toContain('spawn failed');
  });

  it('records the exit of the agent next to its log', async () => {
    const spec = specFor();
    const job = track(new CommandExecutor({ command: 'exit 5' }).start(spec));
    expect(await job.exit).toMatchObject({ kind: 'exited', code: 5 });
    expect(exitFilePath(spec.logPath)).toBe(`${spec.logPath}.exit.json`);
    expect(readExitFile(exitFilePath(spec.logPath))).toMatchObject({ kind: 'ok', exit: { kind: 'exited', code: 5, signal: null } });
  });

  it('clears an exit file left at the path by an earlier run', async () => {
    const spec = specFor();
    await mkdir(join(dir, 'logs'));
    await writeFile(exitFilePath(spec.logPath), JSON.stringify({ code: 0, signal: null, finishedAt: 1 }));
    const job = track(new CommandExecutor({ command: 'exit 4' }).start(spec));
    expect(await job.exit).toMatchObject({ kind: 'exited', code: 4 });
    expect(readExitFile(exitFilePath(spec.logPath))).toMatchObject({ kind: 'ok', exit: { code: 4 } });
  });

  it('reports spawn_failed for a missing working directory', async () => {
    const job = new CommandExecutor({ command: 'true' }).start(specFor({ cwd: join(dir, 'gone') }));
    expect(await job.exit).toMatchObject({ kind: 'spawn_failed', error: expect.stringContaining('does not exist') });
  });
});

describe('reattach', () => {
  function detached(script: string): number {
    const child = spawn('/bin/sh', ['-c', script], { cwd: dir, detached: true, stdio: 'ignore' });
    child.unref();
    const pid = child.pid ?? 0;
    groups.push(pid);
    return pid;
  }

  it('resolves lost once the process it polls is gone', async () => {
    const pid = detached('while [ ! -e go ]; do sleep 0.05; done');
    const job = new CommandExecutor({ command: 'true' }).reattach(pid, Date.now(), 20);
    let settled: JobExit | null = null;
    void job.exit.then((exit) => (settled = exit));
    await sleep(200);
    expect(settled).toBeNull();
    expect(isAlive(pid)).toBe(true);
    await writeFile(join(dir, 'go'), '');
    expect(await job.exit).toMatchObject({ kind: 'lost' });
    expect(isAlive(pid)).toBe(false);
  });

  it('kills what a re-attached job left in its group once it is gone', async () => {
    const pid = detached('sleep 100 & echo $! > grandchild.pid; while [ ! -e go ]; do sleep 0.05; done');
    const grandchild = await readPid(join(dir, 'grandchild.pid'));
    const job = new CommandExecutor({ command: 'true' }).reattach(pid, Date.now(), 20);
    await writeFile(join(dir, 'go'), '');
    expect(await job.exit).toMatchObject({ kind: 'lost' });
    await job.cleared;
    expect(isAlive(grandchild)).toBe(false);
  });

  it('kills the process group of a re-attached job', async () => {
    const pid = detached('sleep 100 & echo $! > grandchild.pid; sleep 100');
    const grandchild = await readPid(join(dir, 'grandchild.pid'));
    const job = new CommandExecutor({ command: 'true' }).reattach(pid, Date.now(), 20);
    job.kill('reaped');
    expect(await job.exit).toMatchObject({ kind: 'lost' });
    await job.cleared;
    expect(isAlive(grandchild)).toBe(false);
  });

  it('keeps an agent that prints running when the conveyor process that started it dies', async () => {
    // The agent prints without pause, so a pipe to its dead parent would end it at once.
    const agent = [
      "const fs = require('fs');",
      'let n = 0;',
      'const tick = setInterval(() => {',
      '  console.log(`tick ${n++}`);',
      "  if (fs.existsSync('go')) { console.log('agent done'); clearInterval(tick); process.exitCode = 7; }",
      '}, 10);',
    ].join('\n');
    const spec = specFor();
    const executorUrl = pathToFileURL(join(ROOT, 'actors/executors/command-executor.ts')).href;
    const launcher = [
      "import { writeFileSync } from 'node:fs';",
      `const { CommandExecutor } = await import(${JSON.stringify(executorUrl)});`,
      `const job = new CommandExecutor({ command: ${JSON.stringify([node, '-e', agent])} }).start(${JSON.stringify(spec)});`,
      `writeFileSync(${JSON.stringify(join(dir, 'job.json'))}, JSON.stringify({ pid: job.pid, startedAt: job.startedAt }));`,
    ].join('\n');
    const parent = spawn(node, ['--import', 'tsx', '--input-type=module', '-e', launcher], { cwd: ROOT, stdio: 'ignore' });
    const parentGone = new Promise((done) => parent.once('exit', done));
    const jobFile = join(dir, 'job.json');
    await waitFor('the job is started', async () => existsSync(jobFile) && (await readFile(jobFile, 'utf8')) !== '');
    const { pid, startedAt } = JSON.parse(await readFile(jobFile, 'utf8')) as { pid: number; startedAt: number };
    groups.push(pid);
    await waitFor('the agent prints', async () => existsSync(spec.logPath) && (await stat(spec.logPath)).size > 0);

    parent.kill('SIGKILL');
    await parentGone;
    const sizeAtDeath = (await stat(spec.logPath)).size;
    await waitFor('the agent prints after its parent died', async () => (await stat(spec.logPath)).size > sizeAtDeath + 100);
    expect(isAlive(pid, startedAt)).toBe(true);

    const job = reattach(pid, startedAt, { exitFile: exitFilePath(spec.logPath), pollMs: 20 });
    await writeFile(join(dir, 'go'), '');
    expect(await job.exit).toMatchObject({ kind: 'exited', code: 7, signal: null });
    const log = await readFile(spec.logPath, 'utf8');
    expect(log).toMatch(/tick \d+\nagent done\n$/);
  });

  it('resolves lost when the exit file names no record', async () => {
    const pid = detached('while [ ! -e go ]; do sleep 0.05; done');
    const job = reattach(pid, Date.now(), { exitFile: join(dir, 'none.exit.json'), pollMs: 20 });
    await writeFile(join(dir, 'go'), '');
    expect(await job.exit).toMatchObject({ kind: 'lost' });
  });

  it.runIf(existsSync('/proc/self/stat'))('treats a process that started after the recorded start as a reused pid', async () => {
    const pid = detached('sleep 100');
    const anHourAgo = Date.now() - 3_600_000;
    expect(isAlive(pid, Date.now())).toBe(true);
    expect(isAlive(pid, anHourAgo)).toBe(false);
    const job = new CommandExecutor({ command: 'true' }).reattach(pid, anHourAgo, 20);
    job.kill('must not reach a stranger');
    expect(await job.exit).toMatchObject({ kind: 'lost' });
    expect(isAlive(pid)).toBe(true);
  });
});

describe('isAlive', () => {
  it('answers for this process, a vanished pid and pids that would address groups', () => {
    expect(isAlive(process.pid)).toBe(true);
    expect(isAlive(0)).toBe(false);
    expect(isAlive(-process.pid)).toBe(false);
    expect(isAlive(2 ** 22 + 1)).toBe(false);
  });

  it.runIf(existsSync('/proc/self/stat'))('counts a zombie as gone', async () => {
    // The exec'd sleep never waits for the shell's background child, which stays a zombie.
    const child = spawn('/bin/sh', ['-c', 'sleep 0 & echo $! > zombie.pid; exec sleep 100'], { cwd: dir, detached: true, stdio: 'ignore' });
    groups.push(child.pid ?? 0);
    const zombie = await readPid(join(dir, 'zombie.pid'));
    await waitFor('the child exits', () => !isAlive(zombie));
    expect(() => process.kill(zombie, 0)).not.toThrow();
  });
});

describe('readLogTail', () => {
  it('returns the last bytes of a log, starting on a whole character', async () => {
    const path = join(dir, 'a.log');
    await writeFile(path, `${'a'.repeat(100)}é-end`);
    const tail = await readLogTail(path, 5);
    expect(tail).toEqual({ kind: 'ok', text: '-end', size: 106, clipped: true });
    expect(await readLogTail(path, 1000)).toMatchObject({ kind: 'ok', clipped: false, text: `${'a'.repeat(100)}é-end` });
  });

  it('reports a missing log', async () => {
    expect(await readLogTail(join(dir, 'none.log'), 100)).toEqual({ kind: 'missing' });
  });
});
