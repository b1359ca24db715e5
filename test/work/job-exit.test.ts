import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serve, type ServerType } from '@hono/node-server';
import { afterEach, describe, expect, it } from 'vitest';
import {
  Background, CommandExecutor, Conveyor, finishedStatuses, isAlive, Workbench,
  type BackgroundConfig, type BackgroundOptions, type TaskEventInput, type WorkbenchOptions,
} from '../../actors/index.ts';
import { defaultPipeline, type PipelineDefinition } from '../../machines/index.ts';
import { createApp } from '../../server/app.ts';
import { defaultTrackerRouting } from '../../server/default-tracker.ts';
import { EmbeddedStore } from '../../store/index.ts';
import { driveToTesting, waitForTask } from '../support/effects-pipeline.ts';
import { API_TOKEN, FORGE_SECRET, TRACKER_SECRET } from '../support/http-fixtures.ts';
import { killGroups } from '../support/process-groups.ts';

const LEAKY_DEPLOYER = fileURLToPath(new URL('../support/leaky-deployer.mjs', import.meta.url));
// Production's deploy needs no agent here: the task has moved on once it waits at the production gate.
const pipeline: PipelineDefinition = {
  ...defaultPipeline,
  baseBackoffMs: 100,
  stages: defaultPipeline.stages.map((s) => (s.id === 'deploy' ? { ...s, agent: null } : s)),
};

/** A conveyor with a workbench, its app served on loopback (agents report there), and its background actors. */
interface Rig {
  dir: string;
  conveyor: Conveyor;
  background: Background;
  /** Stops this conveyor as a restart would: its agents go on running. */
  stop(): Promise<void>;
}

interface RigOptions {
  agents: (dir: string) => WorkbenchOptions['agents'];
  reaper: BackgroundConfig['reaper'];
  background?: Partial<BackgroundOptions>;
  /** A data directory an earlier rig used: this one is that conveyor after a restart. */
  dir?: string;
}

const cleanups: (() => Promise<void>)[] = [];
const groups: number[] = [];
afterEach(async () => {
  killGroups(groups);
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function rig(o: RigOptions): Promise<Rig> {
  const dir = o.dir ?? (await mkdtemp(join(tmpdir(), 'conveyor-job-exit-')));
  if (!o.dir) cleanups.push(() => rm(dir, { recursive: true, force: true, maxRetries: 5 }));
  let url = '';
  const workbench = new Workbench({ dataDir: join(dir, 'data'), agents: o.agents(dir), limits: { globalJobs: 8, perRepoJobs: 8 }, apiBase: () => url });
  const conveyor = new Conveyor({ store: new EmbeddedStore({ dir: join(dir, 'store') }), workbench, pipeline });
  await conveyor.start();
  const app = createApp({ conveyor, apiToken: API_TOKEN, trackerSecret: TRACKER_SECRET, forgeSecret: FORGE_SECRET, tracker: defaultTrackerRouting });
  let server!: ServerType;
  const info = await new Promise<AddressInfo>((resolve) => {
    server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, resolve);
  });
  url = `http://127.0.0.1:${info.port}`;
  const background = new Background({ conveyor, config: { reconciler: { enabled: false }, reaper: o.reaper }, finalizers: workbench.finalizers, ...o.background });
  background.start();
  let stopped: Promise<void> | null = null;
  const stop = () => {
    stopped ??= (async () => {
      await background.stop();
      await new Promise<void>((resolve) => {
        (server as Server).closeAllConnections();
        server.close(() => resolve());
      });
      await conveyor.stop();
    })();
    return stopped;
  };
  cleanups.push(async () => {
    // Stopping conveyor leaves agents running by design: a test's own are killed here.
    for (const job of conveyor.tasks().flatMap((t) => conveyor.jobsOf(t.id))) if (job.pid) groups.push(job.pid);
    killGroups(groups);
    await stop();
  });
  return { dir, conveyor, background, stop };
}

const lines = async (path: string): Promise<string[]> => (await readFile(path, 'utf8').catch(() => '')).split('\n').filter(Boolean);

async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`job-exit test: gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

type JobExited = Extract<TaskEventInput, { type: 'job.exited' }>;

/** Where a task's job records and its history tell different stories of how a job ended; empty when they agree. */
function disagreements(conveyor: Conveyor, taskId: string): string[] {
  const out: string[] = [];
  const heard = conveyor.history(taskId).filter((h) => h.accepted && h.event.type === 'job.exited');
  for (const job of conveyor.jobsOf(taskId)) {
    const exits = heard.filter((h) => (h.event as JobExited).jobId === job.id);
    const told = `job ${job.id} is on record as ${job.status} with exit code ${job.exitCode}`;
    if (exits.length > 1) out.push(`${told}, and the task took ${exits.length} exits of it`);
    const exit = exits[0];
    if (!exit) {
      if (job.status !== 'killed' && job.status !== 'running') out.push(`${told}, and the task never took its exit`);
      continue;
    }
    const event = exit.event as JobExited;
    if (job.status === 'killed') out.push(`${told}, but the history took its exit from ${exit.source} (code ${event.code})`);
    else if (job.exitCode !== event.code) out.push(`${told}, but the history took exit code ${event.code} from ${exit.source}`);
    else if (exit.source === 'reaper' && job.reason !== event.reason) out.push(`${told} (${job.reason}), but the reaper told the task: ${event.reason}`);
  }
  return out;
}

/** The tasks' job.exited entries that came from the reaper. */
const reaped = (conveyor: Conveyor, taskId: string) => conveyor.history(taskId).filter((h) => h.source === 'reaper' && h.event.type === 'job.exited');

describe("a job's exit", () => {
  const KILL_GRACE_MS = 1_500;

  const cases = [
    { lostGraceMs: 100, keepsOutput: false },
    { lostGraceMs: 4_000, keepsOutput: false },
    // The relay lives on for a second, waiting for the pipes the helper holds: alive, its job is not the reaper's.
    { lostGraceMs: 100, keepsOutput: true },
  ];
  for (const { lostGraceMs, keepsOutput } of cases) {
    const helperDoes = keepsOutput ? 'ignores SIGTERM and holds its output open' : 'ignores SIGTERM';
    it(`is recorded once when a deploy agent exits 0 leaving a helper that ${helperDoes} (lost-process grace ${lostGraceMs} ms, kill grace ${KILL_GRACE_MS} ms)`, async () => {
      const { dir, conveyor } = await rig({
        agents: (d) => ({
          deployer: {
            executor: new CommandExecutor({ command: [process.execPath, LEAKY_DEPLOYER], killGraceMs: KILL_GRACE_MS }),
            env: { RUNS_FILE: join(d, 'runs'), HELPERS_FILE: join(d, 'helpers'), ...(keepsOutput ? { HELPER_KEEPS_OUTPUT: '1' } : {}) },
          },
        }),
        reaper: { intervalMs: 50, lostGraceMs, finalizeGraceMs: 0 },
      });
      const sha = 'a'.repeat(40);
      const taskId = await driveToTesting(conveyor, { repo: 'shop', pr: 1, sha });
      await conveyor.send(taskId, { type: 'test.result', sha, passed: true }, { source: 'webhook' });
      const staging = () => conveyor.jobsOf(taskId).filter((j) => j.stage === 'deploy-staging');
      await waitFor('the deploy job to end', () => staging().some((j) => finishedStatuses.has(j.status)));
      // The exit was recorded while conveyor was still killing the helper: it did not wait out the grace.
      const [helper] = (await lines(join(dir, 'helpers'))).map(Number);
      expect(helper && isAlive(helper)).toBe(true);
      if (helper) groups.push(helper);
      await waitForTask(conveyor, taskId, (v) => v.state === 'deploy.gating' || v.state === 'escalated');
      expect(conveyor.task(taskId)?.state).toBe('deploy.gating');
      expect((await lines(join(dir, 'runs'))).filter((l) => l.startsWith('deploy-staging '))).toHaveLength(1);
      expect(staging()).toMatchObject([{ status: 'exited', exitCode: 0 }]);
      expect(reaped(conveyor, taskId)).toEqual([]);
      // The rest of the group still goes, once the grace is over.
      await waitFor('the helper to be killed', () => !isAlive(helper!), KILL_GRACE_MS + 5_000);
      expect(disagreements(conveyor, taskId)).toEqual([]);
    }, 30_000);
  }

  it('is never reaped before it is recorded, with every grace 0, over 40 clean exits', async () => {
    const { dir, conveyor } = await rig({
      agents: (d) => ({ analyst: { executor: new CommandExecutor({ command: `echo "$CONVEYOR_TASK_ID $CONVEYOR_JOB_ID" >> ${join(d, 'runs')}` }) } }),
      reaper: { intervalMs: 5, lostGraceMs: 0, finalizeGraceMs: 0 },
    });
    const ids: string[] = [];
    for (let i = 0; i < 40; i++) ids.push((await conveyor.createTask({ repo: 'shop', title: `change ${i}` }, { source: 'operator' })).taskId);
    for (const id of ids) await waitForTask(conveyor, id, (v) => v.state === 'analysis.gating' || v.state === 'escalated', 30_000);
    const runs = await lines(join(dir, 'runs'));
    for (const id of ids) {
      expect(conveyor.task(id)?.state).toBe('analysis.gating');
      expect(runs.filter((l) => l.startsWith(`${id} `))).toHaveLength(1);
      expect(conveyor.jobsOf(id)).toMatchObject([{ status: 'exited', exitCode: 0 }]);
      expect(reaped(conveyor, id)).toEqual([]);
      expect(disagreements(conveyor, id)).toEqual([]);
    }
  }, 60_000);

  it('is told the same by the job record and the history when the reaper ends a job past its ceiling', async () => {
    const { dir, conveyor } = await rig({
      agents: (d) => ({ analyst: { executor: new CommandExecutor({ command: `echo "$CONVEYOR_JOB_ID" >> ${join(d, 'runs')}; sleep 30` }) } }),
      reaper: { intervalMs: 50, lostGraceMs: 0, finalizeGraceMs: 0, hardCeilingMs: 500 },
      background: { longestJobMs: 100 },
    });
    await writeFile(join(dir, 'runs'), '');
    const { taskId } = await conveyor.createTask({ repo: 'shop', title: 'a slow analysis' }, { source: 'operator' });
    await waitFor('the reaper to end the first job', () => reaped(conveyor, taskId).length > 0);
    const first = (reaped(conveyor, taskId)[0]!.event as JobExited).jobId;
    await conveyor.send(taskId, { type: 'task.cancel', reason: 'done looking' }, { source: 'operator' });
    await waitForTask(conveyor, taskId, (v) => v.state === 'cancelled');
    // Each job's own watcher sees its end too; once they are done, the records are what they will stay.
    await waitFor('every job to end', () => conveyor.jobsOf(taskId).every((j) => finishedStatuses.has(j.status)));
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(conveyor.job(first)).toMatchObject({ status: 'timed_out', exitCode: null, reason: expect.stringContaining('past the hard ceiling') });
    expect(disagreements(conveyor, taskId)).toEqual([]);
  }, 30_000);

  it("kills a re-attached job's leftovers with the configured grace after a restart", async () => {
    // The agent leaves a helper that ignores SIGTERM (and holds none of the relay's pipes), then waits for `go`.
    const agents = (killGraceMs: number) => (d: string) => ({
      analyst: {
        executor: new CommandExecutor({
          command: `( trap '' TERM; : > ${d}/ready; exec sleep 60 ) >/dev/null 2>&1 & echo $! > ${d}/helper.pid; while [ ! -e ${d}/go ]; do sleep 0.02; done`,
          killGraceMs,
        }),
      },
    });
    const reaper = { intervalMs: 50, lostGraceMs: 0, finalizeGraceMs: 0 };
    // In one test process the first conveyor's executor still watches its relay (a real restart ends it with the
    // process): a grace of a minute keeps it out of the way of the re-attached job's.
    const before = await rig({ agents: agents(60_000), reaper });
    const { taskId } = await before.conveyor.createTask({ repo: 'shop', title: 'a long analysis' }, { source: 'operator' });
    const exists = (name: string) => readFile(join(before.dir, name)).then(() => true, () => false);
    await waitFor('the helper to ignore SIGTERM', async () => (await exists('ready')) && (await lines(join(before.dir, 'helper.pid'))).length > 0);
    const [helper] = (await lines(join(before.dir, 'helper.pid'))).map(Number);
    groups.push(helper!);
    await before.stop();
    const after = await rig({ agents: agents(200), reaper, dir: before.dir });
    const job = after.conveyor.jobsOf(taskId)[0]!;
    await waitFor('the job to be re-attached', () => after.conveyor.job(job.id)?.bootId === after.conveyor.runtime.bootId);
    const go = Date.now();
    await writeFile(join(before.dir, 'go'), '');
    await waitForTask(after.conveyor, taskId, (v) => v.state === 'analysis.gating');
    expect(after.conveyor.job(job.id)).toMatchObject({ status: 'exited', exitCode: 0 });
    // 200 ms of grace after the re-attached relay is seen gone (polled every 500 ms), not the default 3 s.
    await waitFor('the helper to be killed', () => !isAlive(helper!), 10_000);
    expect(Date.now() - go).toBeLessThan(2_800);
    expect(disagreements(after.conveyor, taskId)).toEqual([]);
  }, 30_000);
});
