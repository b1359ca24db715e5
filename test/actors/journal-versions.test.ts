import { rm } from 'node:fs/promises';
import { assign } from 'xstate';
import { afterEach, describe, expect, it } from 'vitest';
import { Conveyor, RuntimeRefusedError } from '../../actors/index.ts';
import { compileTaskMachine, TASK_MACHINE_VERSION, type TaskMachine } from '../../machines/index.ts';
import { EmbeddedStore } from '../../store/index.ts';
import { dirWithTask } from '../support/rewritten-task.ts';

const OLD = TASK_MACHINE_VERSION - 1;
const dirs: string[] = [];
const open: Conveyor[] = [];
afterEach(async () => {
  for (const c of open.splice(0)) await c.stop();
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

/** An older chart that read an approval as a rejection (a red gate: back to preparing the stage), so replaying with it shows. */
const oldChart = compileTaskMachine().provide({ actions: { recordApproval: assign({ approval: 'rejected' }) as never } }) as TaskMachine;
const migrations = {
  [OLD]: (s: unknown) => {
    const snapshot = s as { context: object };
    return { ...snapshot, context: { ...snapshot.context, migratedFrom: OLD } };
  },
};

/**
 * A task at the analysis gate, checkpointed as an older build left it, then one more step journaled under
 * that older version by a process that crashed before its next checkpoint.
 */
async function crashedUnderOldVersion(): Promise<{ dir: string; taskId: string }> {
  const { dir, taskId } = await dirWithTask(dirs, (r) => ({ ...r, version: OLD }));
  const crashed = new EmbeddedStore({ dir });
  await crashed.load();
  const { rev } = crashed.getTask(taskId)!;
  const entry = { at: 5, source: 'operator' as const, event: { type: 'analysis.approved', at: 5 }, accepted: true, from: 'analysis.gating', to: 'analysis.gating' };
  // What the older build computed is not journaled: only the event is.
  await crashed.commit([{ kind: 'step', taskId, rev: rev + 1, version: OLD, entry, snapshot: { stale: true } }]);
  return { dir, taskId };
}

async function startOn(dir: string, options: { charts?: Record<number, TaskMachine>; migrations?: typeof migrations }): Promise<Conveyor> {
  const conveyor = new Conveyor({ store: new EmbeddedStore({ dir }), ...options });
  await conveyor.start();
  open.push(conveyor);
  return conveyor;
}

describe('a step journaled under an older task machine version', () => {
  it('is replayed with the chart of that version when the build keeps it, then migrated as a restore does', async () => {
    const { dir, taskId } = await crashedUnderOldVersion();
    const conveyor = await startOn(dir, { charts: { [OLD]: oldChart }, migrations });
    const record = conveyor.record(taskId)!;
    expect(record.version).toBe(OLD);
    expect(record.snapshot).toMatchObject({ value: { active: { analysis: 'preparing' } } });
    expect(record.snapshot).not.toHaveProperty('stale');
    // Its next event runs on this build's chart, from the migrated snapshot.
    expect((await conveyor.send(taskId, { type: 'task.hold', reason: 'look' }, { source: 'operator' })).status).toBe('accepted');
    expect(conveyor.record(taskId)).toMatchObject({ version: TASK_MACHINE_VERSION, snapshot: { value: 'onHold', context: { migratedFrom: OLD } } });
  });

  it('is replayed with this build\'s chart after migrating the snapshot, when the older chart is not kept', async () => {
    const { dir, taskId } = await crashedUnderOldVersion();
    const conveyor = await startOn(dir, { migrations });
    expect(conveyor.record(taskId)).toMatchObject({ version: TASK_MACHINE_VERSION, snapshot: { context: { approval: 'approved', migratedFrom: OLD } } });
    expect(conveyor.task(taskId)?.state).toMatch(/^development\./);
  });

  it('refuses to start, naming the task, with neither the older chart nor a migration', async () => {
    const { dir, taskId } = await crashedUnderOldVersion();
    const refused = await startOn(dir, {}).then(() => null, (e: unknown) => e as Error);
    expect(refused).not.toBeNull();
    expect(refused).not.toBeInstanceOf(RuntimeRefusedError);
    expect(refused?.message).toMatch(new RegExp(`task ${taskId} cannot be replayed to rev \\d+ .*no migration from ${OLD}`));
  });
});
