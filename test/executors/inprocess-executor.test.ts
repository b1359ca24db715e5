import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { appendFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InProcessExecutor } from '../../actors/executors/index.ts';
import type { JobSpec } from '../../actors/executors/index.ts';

let dir: string;

function specFor(over: Partial<JobSpec> = {}): JobSpec {
  return {
    jobId: 'job-3',
    taskId: 'task-9',
    stage: 'review',
    agent: 'reviewer',
    repo: 'acme/shop',
    branch: 'conveyor/task-9',
    attempt: 1,
    cwd: dir,
    timeoutMs: 20_000,
    apiBase: 'http://127.0.0.1:7070',
    token: 'tok',
    logPath: join(dir, 'logs', 'job-3.log'),
    ...over,
  };
}

function untilAborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'conveyor-inproc-'));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('InProcessExecutor', () => {
  it('reports the exit code the function resolves, with no pid', async () => {
    const seen: JobSpec[] = [];
    const executor = new InProcessExecutor(async (spec) => {
      seen.push(spec);
      await appendFile(spec.logPath, 'reviewed\n');
      return 0;
    });
    const job = executor.start(specFor());
    expect(job.pid).toBeNull();
    expect(await job.exit).toMatchObject({ kind: 'exited', code: 0, signal: null });
    expect(seen.map((s) => s.taskId)).toEqual(['task-9']);
    expect(await readFile(specFor().logPath, 'utf8')).toBe('reviewed\n');
  });

  it('reports a non-zero exit code', async () => {
    const job = new InProcessExecutor(() => Promise.resolve(3)).start(specFor());
    expect(await job.exit).toMatchObject({ kind: 'exited', code: 3, signal: null });
  });

  it('turns a thrown error into exit code 1 with the message in the log', async () => {
    const job = new InProcessExecutor(() => Promise.reject(new Error('reviewer crashed on diff'))).start(specFor());
    expect(await job.exit).toMatchObject({ kind: 'exited', code: 1, signal: null });
    expect(await readFile(specFor().logPath, 'utf8')).toContain('reviewer crashed on diff');
  });

  it('turns a synchronous throw into exit code 1', async () => {
    const job = new InProcessExecutor(() => {
      throw new Error('bad input');
    }).start(specFor());
    expect(await job.exit).toMatchObject({ kind: 'exited', code: 1 });
  });

  it('aborts the signal and reports timed_out when the function overruns', async () => {
    let aborted = false;
    const job = new InProcessExecutor(async (_spec, signal) => {
      await untilAborted(signal);
      aborted = true;
      return 0;
    }).start(specFor({ timeoutMs: 50 }));
    expect(await job.exit).toMatchObject({ kind: 'timed_out' });
    expect(aborted).toBe(true);
    expect(await readFile(specFor().logPath, 'utf8')).toContain('timed out after 50 ms');
  });

  it('reports timed_out even when the function ignores its signal', async () => {
    const job = new InProcessExecutor(() => new Promise<number>(() => undefined)).start(specFor({ timeoutMs: 50 }));
    expect(await job.exit).toMatchObject({ kind: 'timed_out' });
  });

  it('aborts the signal on kill and reports SIGTERM', async () => {
    let reason: unknown;
    let running: () => void = () => undefined;
    const started = new Promise<void>((resolve) => (running = resolve));
    const job = new InProcessExecutor(async (_spec, signal) => {
      running();
      await untilAborted(signal);
      reason = signal.reason;
      return 0;
    }).start(specFor());
    await started;
    job.kill('task cancelled');
    expect(await job.exit).toMatchObject({ kind: 'exited', code: null, signal: 'SIGTERM' });
    expect(String(reason)).toContain('task cancelled');
    expect(await readFile(specFor().logPath, 'utf8')).toContain('killed: task cancelled');
  });

  it('never calls the function of a job killed before it ran', async () => {
    let calls = 0;
    const job = new InProcessExecutor(() => Promise.resolve(++calls)).start(specFor());
    job.kill('cancelled at once');
    expect(await job.exit).toMatchObject({ kind: 'exited', signal: 'SIGTERM' });
    expect(calls).toBe(0);
  });

  it('records start and finish times from its clock', async () => {
    let t = 500;
    const job = new InProcessExecutor(() => Promise.resolve(0), { clock: { now: () => (t += 1) } }).start(specFor());
    const exit = await job.exit;
    expect(job.startedAt).toBe(501);
    expect(exit.finishedAt).toBe(502);
  });
});
