import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { fromPromise } from 'xstate';
import { Conveyor, instantImplementations, type Implementations } from '../../actors/index.ts';
import { defaultPipeline, type PrepareInput } from '../../machines/index.ts';
import { EmbeddedStore } from '../../store/index.ts';
import { FailingStore, waitForState } from '../support/http-fixtures.ts';

const dirs: string[] = [];
const open: Conveyor[] = [];
afterEach(async () => {
  for (const c of open.splice(0)) await c.stop().catch(() => undefined);
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

async function start(implementations: Implementations, store: (inner: EmbeddedStore) => FailingStore) {
  const dir = await mkdtemp(join(tmpdir(), 'conveyor-revive-'));
  dirs.push(dir);
  const failing = store(new EmbeddedStore({ dir }));
  const conveyor = new Conveyor({ store: failing, implementations, pipeline: { ...defaultPipeline, baseBackoffMs: 5 } });
  await conveyor.start();
  open.push(conveyor);
  return { conveyor, store: failing };
}

describe('a report the store refuses', () => {
  it('does not strand the task: its work in flight runs again from the committed state', async () => {
    let store: FailingStore | null = null;
    let prepared = 0;
    // The first preparation's report lands while the disk refuses every write; the disk recovers at once after.
    const implementations: Implementations = (rt) => ({
      ...instantImplementations(rt),
      prepareStage: fromPromise<void, PrepareInput>(async ({ input }) => {
        prepared++;
        const refuse = prepared === 1;
        if (refuse) store!.failing = true;
        try {
          await rt.send(input.taskId, { type: 'stage.prepared' }, { source: 'runtime' });
        } finally {
          if (refuse) store!.failing = false;
        }
      }),
    });
    const started = await start(implementations, (inner) => (store = new FailingStore(inner)));
    const { taskId } = await started.conveyor.createTask({ repo: 'shop', title: 'refused report' }, { source: 'operator' });

    const view = await waitForState(started.conveyor, taskId, 'analysis.gating', 10_000);
    expect(view.state).toBe('analysis.gating');
    expect(started.store.failedCommits).toBeGreaterThan(0);
    expect(prepared).toBe(2);
  });

  it('does not lose a timer whose firing the store refused', async () => {
    let store: FailingStore | null = null;
    let runs = 0;
    // The agent fails once, so the task waits in retrying on a backoff timer; the disk refuses that timer's firing.
    const implementations: Implementations = (rt) => ({
      ...instantImplementations(rt),
      runAgent: fromPromise<void, { taskId: string; job: { id: string } | null }>(async ({ input }) => {
        const jobId = input.job!.id;
        runs++;
        await rt.send(input.taskId, { type: 'job.started', jobId }, { source: 'job' });
        if (runs === 1) {
          await rt.send(input.taskId, { type: 'job.exited', jobId, code: 1 }, { source: 'job' });
          store!.failing = true;
          setTimeout(() => (store!.failing = false), 50);
          return;
        }
        await rt.send(input.taskId, { type: 'job.exited', jobId, code: 0 }, { source: 'job' });
      }),
    });
    const started = await start(implementations, (inner) => (store = new FailingStore(inner)));
    const { taskId } = await started.conveyor.createTask({ repo: 'shop', title: 'refused timer' }, { source: 'operator' });

    await waitForState(started.conveyor, taskId, 'analysis.gating', 10_000);
    expect(started.store.failedCommits).toBeGreaterThan(0);
    expect(runs).toBe(2);
  });
});
