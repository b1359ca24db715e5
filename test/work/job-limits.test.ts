import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { Conveyor, InProcessExecutor, Workbench, type WorkbenchOptions } from '../../actors/index.ts';
import { defaultPipeline } from '../../machines/index.ts';
import { EmbeddedStore } from '../../store/index.ts';

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0)) await c();
});

async function open(options: Omit<WorkbenchOptions, 'dataDir'>) {
  const dir = await mkdtemp(join(tmpdir(), 'conveyor-limits-'));
  const workbench = new Workbench({ ...options, dataDir: join(dir, 'data') });
  const conveyor = new Conveyor({ store: new EmbeddedStore({ dir: join(dir, 'store') }), workbench, pipeline: defaultPipeline });
  await conveyor.start();
  cleanup.push(async () => {
    await conveyor.stop();
    await rm(dir, { recursive: true, force: true });
  });
  return { conveyor, workbench };
}

async function until(what: string, check: () => boolean): Promise<void> {
  for (let i = 0; i < 2000 && !check(); i++) await delay(5);
  if (!check()) throw new Error(`timed out waiting until ${what}`);
}

describe('job limits of the workbench', () => {
  it('starts no agent while free memory is under the floor, and starts it once memory is back', async () => {
    let free = 100 * 1024 * 1024;
    let runs = 0;
    const analyst = new InProcessExecutor(() => Promise.resolve(++runs && 0));
    const { conveyor, workbench } = await open({
      agents: { analyst: { executor: analyst } }, limits: { globalJobs: 4, perRepoJobs: 4, minFreeMemoryBytes: 512 * 1024 * 1024 },
      freeMemory: () => free, memoryRecheckMs: 20,
    });
    const { taskId } = await conveyor.createTask({ repo: 'shop', title: 'short on memory' }, { source: 'operator' });
    await until('the job is queued', () => conveyor.jobsOf(taskId).length > 0 && workbench.scheduler.stats().memoryHeld);
    await delay(100);
    expect(runs).toBe(0);
    expect(conveyor.task(taskId)?.state).toBe('analysis.working.queued');
    expect(workbench.scheduler.stats()).toMatchObject({ queued: 1, running: 0, memoryHeld: true });
    free = 2 * 1024 * 1024 * 1024;
    await until('the analysis finishes', () => conveyor.task(taskId)?.state === 'analysis.gating');
    expect(runs).toBe(1);
    expect(workbench.scheduler.stats().memoryHeld).toBe(false);
  });

  it('runs no more agents of a stage at once than its limit', async () => {
    let running = 0;
    let most = 0;
    const analyst = new InProcessExecutor(async () => {
      most = Math.max(most, ++running);
      await delay(40);
      running--;
      return 0;
    });
    const { conveyor } = await open({ agents: { analyst: { executor: analyst } }, limits: { globalJobs: 4, perRepoJobs: 4, perStageJobs: { analysis: 1 } } });
    const ids: string[] = [];
    for (const title of ['one', 'two', 'three']) ids.push((await conveyor.createTask({ repo: 'shop', title }, { source: 'operator' })).taskId);
    await until('every analysis finishes', () => ids.every((id) => conveyor.task(id)?.state === 'analysis.gating'));
    expect(most).toBe(1);
  });
});
