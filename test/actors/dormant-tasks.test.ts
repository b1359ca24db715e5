import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Conveyor, type DecisionRecord } from '../../actors/index.ts';
import { EmbeddedStore } from '../../store/index.ts';

const dirs: string[] = [];
const open: Conveyor[] = [];
afterEach(async () => {
  for (const c of open.splice(0)) await c.stop().catch(() => undefined);
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

async function taskAtAnalysisGate(): Promise<{ conveyor: Conveyor; taskId: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'conveyor-dormant-'));
  dirs.push(dir);
  const conveyor = new Conveyor({ store: new EmbeddedStore({ dir }) });
  await conveyor.start();
  open.push(conveyor);
  const { taskId } = await conveyor.createTask({ repo: 'shop', title: 'dormant' }, { source: 'operator' });
  for (let i = 0; i < 200 && (conveyor.task(taskId)?.state !== 'analysis.gating' || conveyor.runtime.liveCount() > 0); i++) await new Promise((r) => setTimeout(r, 5));
  expect(conveyor.task(taskId)?.state).toBe('analysis.gating');
  return { conveyor, taskId };
}

const pending = (conveyor: Conveyor, taskId: string) => conveyor.decisions.list('pending', taskId).map((d: DecisionRecord) => d.id);

describe('a task with nothing running', () => {
  it('takes its events without an actor, with what they emit committed beside them', async () => {
    const { conveyor, taskId } = await taskAtAnalysisGate();
    const started = conveyor.runtime.actorStarts;
    const [asked] = pending(conveyor, taskId);
    expect(asked).toBeDefined();

    expect(await conveyor.send(taskId, { type: 'pr.opened', number: 7, sha: 'a'.repeat(40) }, { source: 'webhook' })).toMatchObject({ status: 'accepted' });
    // Leaving the gate withdraws its decision; coming back through history opens a new one.
    expect(await conveyor.send(taskId, { type: 'task.hold', reason: 'legal' }, { source: 'operator' })).toMatchObject({ status: 'accepted', to: 'onHold' });
    expect(pending(conveyor, taskId)).toEqual([]);
    expect(conveyor.decisions.get(asked!)).toMatchObject({ status: 'superseded' });
    expect(await conveyor.send(taskId, { type: 'task.resume' }, { source: 'operator' })).toMatchObject({ status: 'accepted', to: 'analysis.gating' });
    expect(pending(conveyor, taskId)).toHaveLength(1);
    expect(pending(conveyor, taskId)[0]).not.toBe(asked);
    expect(await conveyor.send(taskId, { type: 'task.resume' }, { source: 'operator' })).toMatchObject({ status: 'ignored' });

    expect(conveyor.runtime.actorStarts).toBe(started);
    expect(conveyor.runtime.liveCount()).toBe(0);
    expect(conveyor.task(taskId)?.context.head).toMatchObject({ sha: 'a'.repeat(40), pr: 7 });
    expect(conveyor.history(taskId).at(-2)).toMatchObject({ event: { type: 'task.resume' }, accepted: true, from: 'onHold', to: 'analysis.gating', emitted: [{ type: 'decision.requested' }] });
  });

  it('starts an actor once its new state invokes work, which then runs', async () => {
    const { conveyor, taskId } = await taskAtAnalysisGate();
    const started = conveyor.runtime.actorStarts;
    expect(await conveyor.send(taskId, { type: 'analysis.approved' }, { source: 'operator' })).toMatchObject({ status: 'accepted', to: 'development.preparing' });
    expect(conveyor.runtime.actorStarts).toBe(started + 1);
    // The preparation and the developer's job it invoked ran: the task reached its next gate.
    for (let i = 0; i < 200 && conveyor.task(taskId)?.state !== 'development.gating'; i++) await new Promise((r) => setTimeout(r, 5));
    expect(conveyor.task(taskId)?.state).toBe('development.gating');
    expect(conveyor.status().tasks.actorStarts).toBe(conveyor.runtime.actorStarts);
  });
});
