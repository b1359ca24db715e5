import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { Conveyor, Workbench, type Executor } from '../../actors/index.ts';
import { defaultPipeline } from '../../machines/index.ts';
import { EmbeddedStore } from '../../store/index.ts';

const pipeline = { ...defaultPipeline, baseBackoffMs: 5, maxJobAttempts: 2 };
const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0)) await c();
});

/** An executor whose launch bookkeeping fails before any agent runs. */
const failingExecutor: Executor = {
  start() {
    throw new Error('spawn bookkeeping failed: no space left on device');
  },
};

describe('a launch that fails', () => {
  it('releases its slot and fails the attempt with the error as the reason, so the task never waits in queued', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'conveyor-launch-'));
    const workbench = new Workbench({ dataDir: join(dir, 'data'), agents: { analyst: { executor: failingExecutor } }, limits: { globalJobs: 1, perRepoJobs: 1 } });
    const conveyor = new Conveyor({ store: new EmbeddedStore({ dir: join(dir, 'store') }), workbench, pipeline });
    await conveyor.start();
    cleanup.push(async () => {
      await conveyor.stop();
      await rm(dir, { recursive: true, force: true });
    });
    const a = (await conveyor.createTask({ repo: 'shop', title: 'first' }, { source: 'operator' })).taskId;
    const b = (await conveyor.createTask({ repo: 'shop', title: 'second' }, { source: 'operator' })).taskId;

    // Both tasks spend their attempts on the one slot: a slot leaked by the first failure would wedge the second.
    for (let i = 0; i < 1000 && [a, b].some((id) => conveyor.task(id)?.state !== 'escalated'); i++) await delay(5);
    for (const id of [a, b]) {
      expect(conveyor.task(id)?.state, `task ${id}`).toBe('escalated');
      expect(conveyor.task(id)?.context.escalation?.reason).toContain('spawn bookkeeping failed: no space left on device');
      const jobs = conveyor.jobsOf(id);
      expect(jobs).toHaveLength(pipeline.maxJobAttempts);
      for (const job of jobs) expect(job).toMatchObject({ status: 'failed_to_start', reason: expect.stringContaining('spawn bookkeeping failed') });
    }
    expect(workbench.scheduler.stats()).toMatchObject({ queued: 0, running: 0 });
  });
});
