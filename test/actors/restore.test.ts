import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Conveyor, RuntimeRefusedError } from '../../actors/index.ts';
import { TASK_MACHINE_VERSION } from '../../machines/index.ts';
import { EmbeddedStore, type TaskRecord } from '../../store/index.ts';
import { dirWithTask as rewrittenTask } from '../support/rewritten-task.ts';

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

const dirWithTask = (change: (record: TaskRecord) => TaskRecord) => rewrittenTask(dirs, change);

async function startOn(dir: string, migrations?: Record<number, (s: unknown) => unknown>): Promise<Conveyor> {
  const conveyor = new Conveyor({ store: new EmbeddedStore({ dir }), migrations });
  await conveyor.start();
  return conveyor;
}

describe('restoring persisted tasks', () => {
  it('refuses to start on a snapshot of an older machine version with no migration, naming the task', async () => {
    const { dir, taskId } = await dirWithTask((r) => ({ ...r, version: TASK_MACHINE_VERSION - 1 }));
    const before = await readFile(join(dir, 'checkpoint.json'), 'utf8');
    const refused = await startOn(dir).then(() => null, (e: unknown) => e);
    expect(refused).toBeInstanceOf(RuntimeRefusedError);
    expect((refused as Error).message).toContain(`task ${taskId}`);
    expect((refused as Error).message).toContain(`version ${TASK_MACHINE_VERSION - 1}`);
    expect((refused as Error).message).toContain('no migration');
    // Refusing writes nothing: the data stays as it was for a build that can read it.
    expect(await readFile(join(dir, 'checkpoint.json'), 'utf8')).toBe(before);
  });

  it('runs the migration it is given and restores the task', async () => {
    const { dir, taskId } = await dirWithTask((r) => ({ ...r, version: TASK_MACHINE_VERSION - 1, snapshot: { ...(r.snapshot as object), legacy: true } }));
    const seen: unknown[] = [];
    const conveyor = await startOn(dir, {
      [TASK_MACHINE_VERSION - 1]: (s) => {
        seen.push(s);
        const { legacy: _legacy, ...rest } = s as Record<string, unknown>;
        return rest;
      },
    });
    expect(seen).toHaveLength(1);
    expect((await conveyor.send(taskId, { type: 'analysis.approved' }, { source: 'operator' })).status).toBe('accepted');
    await conveyor.stop();
  });

  it('refuses a snapshot from a newer build and one of another machine', async () => {
    const newer = await dirWithTask((r) => ({ ...r, version: TASK_MACHINE_VERSION + 1 }));
    await expect(startOn(newer.dir)).rejects.toThrow(/newer than this build/);
    const foreign = await dirWithTask((r) => ({ ...r, machineId: 'invoice' }));
    await expect(startOn(foreign.dir)).rejects.toThrow(/persisted by machine "invoice"/);
  });

  it('refuses a snapshot in a state the chart does not have, at start rather than at its next event', async () => {
    const { dir, taskId } = await dirWithTask((r) => ({ ...r, snapshot: { ...(r.snapshot as object), value: { active: { 'code-review': 'gating' } } } }));
    const refused = await startOn(dir).then(() => null, (e: unknown) => e as Error);
    expect(refused?.message).toMatch(new RegExp(`task ${taskId}: its persisted snapshot does not fit the task machine`));
  });
});
