import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { CommandExecutor, Conveyor, Workbench, type JobRecord, type TaskView, type WorkbenchOptions } from '../../actors/index.ts';
import { defaultPipeline } from '../../machines/index.ts';
import { createApp } from '../../server/app.ts';
import { defaultTrackerRouting } from '../../server/default-tracker.ts';
import { EmbeddedStore } from '../../store/index.ts';
import { API_TOKEN, apiCaller, FORGE_SECRET, TRACKER_SECRET, waitForState } from '../support/http-fixtures.ts';

const REPO = 'shop';

/** A conveyor with a workbench on its own temp dir, and its HTTP app. */
interface Bench {
  dir: string;
  conveyor: Conveyor;
  workbench: Workbench;
  api(method: string, path: string, body?: unknown): Promise<Response>;
}

const opened: Bench[] = [];

async function bench(options: Omit<WorkbenchOptions, 'dataDir'>): Promise<Bench> {
  const dir = await mkdtemp(join(tmpdir(), 'conveyor-deps-'));
  const workbench = new Workbench({ ...options, dataDir: join(dir, 'data') });
  const pipeline = { ...defaultPipeline, baseBackoffMs: 50, maxJobAttempts: 2 };
  const conveyor = new Conveyor({ store: new EmbeddedStore({ dir: join(dir, 'store') }), workbench, pipeline });
  await conveyor.start();
  const app = createApp({ conveyor, apiToken: API_TOKEN, trackerSecret: TRACKER_SECRET, forgeSecret: FORGE_SECRET, tracker: defaultTrackerRouting });
  const api = apiCaller(app);
  const b = { dir, conveyor, workbench, api };
  opened.push(b);
  return b;
}

afterEach(async () => {
  for (const { dir, conveyor } of opened.splice(0)) {
    await conveyor.stop();
    await rm(dir, { recursive: true, force: true, maxRetries: 5 });
  }
});

async function json<T>(res: Response): Promise<T> {
  return (await res.json()) as T;
}

async function waitFor(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`dependencies test: gave up waiting for ${what}`);
    await delay(10);
  }
}

/** POST /api/tasks; the answer's task and its unknown dependencies, if any. */
async function create(b: Bench, title: string, dependsOn?: string[]) {
  const res = await b.api('POST', '/tasks', { repo: REPO, title, ...(dependsOn ? { dependsOn } : {}) });
  expect(res.status).toBe(201);
  return json<{ task: TaskView; unknownDependencies?: string[] }>(res);
}

/**
 * Takes a task from the analysis gate to done with the facts each gate reads. No agent is configured
 * past analysis, so every later job ends at once, and without forge or deploy commands the effects
 * complete at once.
 */
async function driveToDone(b: Bench, taskId: string): Promise<void> {
  const send = (event: Parameters<Conveyor['send']>[1]) => b.conveyor.send(taskId, event, { source: 'webhook' });
  const sha = 'c0ffee1234567890';
  expect((await b.api('POST', `/tasks/${taskId}/events`, { type: 'approve' })).status).toBe(200);
  await waitForState(b.conveyor, taskId, 'development.gating');
  await send({ type: 'pr.opened', number: 3, sha });
  await send({ type: 'ci.status', sha, state: 'success', context: 'ci/build' });
  await waitForState(b.conveyor, taskId, 'review.gating');
  await send({ type: 'review.verdict', sha, verdict: 'approved' });
  await waitForState(b.conveyor, taskId, 'testing.gating');
  await send({ type: 'test.result', sha, passed: true });
  await waitForState(b.conveyor, taskId, 'deploy-staging.gating');
  await send({ type: 'deploy.status', environment: 'staging', state: 'success' });
  await waitForState(b.conveyor, taskId, 'deploy.gating');
  await send({ type: 'deploy.status', environment: 'production', state: 'success' });
  await waitForState(b.conveyor, taskId, 'done');
}

describe('task dependencies', () => {
  it('keeps a dependent job queued without a slot until its dependency is done, then runs it', async () => {
    // The analyst leaves a mark in the task's work dir, so a run that should not happen is seen.
    const b = await bench({
      agents: { analyst: { executor: new CommandExecutor({ command: 'echo "analysed $CONVEYOR_TASK_ID" > ran' }) } },
      limits: { globalJobs: 1, perRepoJobs: 1 },
    });
    const ran = (taskId: string) => existsSync(join(b.workbench.workdirFor(taskId), 'ran'));
    const jobOf = (taskId: string): JobRecord | undefined => b.conveyor.jobsOf(taskId)[0];

    const a = (await create(b, 'schema migration')).task.id;
    await waitForState(b.conveyor, a, 'analysis.gating');
    const dependent = (await create(b, 'use the new schema', [a])).task.id;
    await waitFor('the dependent job to be on record', () => jobOf(dependent) !== undefined);
    await waitForState(b.conveyor, dependent, 'analysis.working.queued');

    // With one slot in all, an independent task still runs: the waiting job holds none.
    const other = (await create(b, 'fix a typo')).task.id;
    await waitForState(b.conveyor, other, 'analysis.gating');
    expect(ran(other)).toBe(true);
    expect(b.conveyor.task(dependent)?.state).toBe('analysis.working.queued');
    expect(jobOf(dependent)).toMatchObject({ status: 'queued' });
    expect(jobOf(dependent)?.pid).toBeUndefined();
    expect(ran(dependent)).toBe(false);
    const shown = await json<{ waitingOn: string[] }>(await b.api('GET', `/tasks/${dependent}`));
    expect(shown.waitingOn).toEqual([a]);

    await driveToDone(b, a);
    expect(ran(dependent)).toBe(false);
    await waitForState(b.conveyor, dependent, 'analysis.gating');
    expect(ran(dependent)).toBe(true);
    expect(jobOf(dependent)).toMatchObject({ status: 'exited', exitCode: 0 });
    const released = b.conveyor.history(dependent).find((h) => h.event.type === 'dependency.done');
    expect(released).toMatchObject({ accepted: true, event: { taskId: a } });
    expect(b.conveyor.task(dependent)?.context.dependenciesDone).toEqual([a]);
  });

  it('refuses a dependency cycle, holds every task in it and raises an alert', async () => {
    const b = await bench({ agents: {} });
    const first = (await create(b, 'first')).task.id;
    const second = (await create(b, 'second')).task.id;
    const declared = await b.api('POST', `/tasks/${first}/dependencies`, { dependsOn: [second] });
    expect(declared.status).toBe(200);
    expect(await json(declared)).toEqual({ waitingOn: [second], unknown: [] });

    const res = await b.api('POST', `/tasks/${second}/dependencies`, { dependsOn: [first] });
    expect(res.status).toBe(409);
    const body = await json<{ error: { code: string; message: string }; cycle: string[] }>(res);
    expect(body.error.code).toBe('conflict');
    expect(body.error.message).toContain(`${second} → ${first} → ${second}`);
    expect(body.cycle).toEqual([second, first, second]);

    for (const id of [first, second]) {
      const held = await waitForState(b.conveyor, id, 'onHold');
      expect(held.context.hold?.reason).toContain('dependency cycle');
    }
    expect(b.conveyor.alerts()).toContainEqual(expect.objectContaining({ kind: 'dependency_cycle', cycle: [second, first, second] }));
  });

  it('accepts an unknown dependency with a warning and does not wait on it', async () => {
    const b = await bench({ agents: {} });
    const { task, unknownDependencies } = await create(b, 'depends on a ghost', ['no-such-task']);
    expect(unknownDependencies).toEqual(['no-such-task']);

    await waitForState(b.conveyor, task.id, 'analysis.gating');
    const warning = b.conveyor.history(task.id).find((h) => h.event.type === 'dependency.unknown');
    expect(warning).toMatchObject({ accepted: false, event: { taskIds: ['no-such-task'] } });
    expect(warning?.reason).toContain('warning');
    expect(warning?.reason).toContain('no-such-task');
    const shown = await json<{ waitingOn: string[] }>(await b.api('GET', `/tasks/${task.id}`));
    expect(shown.waitingOn).toEqual([]);
  });
});
