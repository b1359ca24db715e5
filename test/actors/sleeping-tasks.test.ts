import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SimulatedClock } from 'xstate';
import { afterEach, describe, expect, it } from 'vitest';
import { Conveyor } from '../../actors/index.ts';
import { defaultPipeline } from '../../machines/index.ts';
import { EmbeddedStore } from '../../store/index.ts';

const HOUR = 60 * 60_000;
const dirs: string[] = [];
const open: Conveyor[] = [];

afterEach(async () => {
  for (const c of open.splice(0)) await c.stop().catch(() => undefined);
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

async function conveyorAt(dir: string, clock: SimulatedClock): Promise<Conveyor> {
  const conveyor = new Conveyor({ store: new EmbeddedStore({ dir }), clock, pipeline: { ...defaultPipeline, gateTimeoutMs: 2 * HOUR } });
  await conveyor.start();
  open.push(conveyor);
  return conveyor;
}

/** Lets the runtime's own follow-up events (prepared, job started and exited) run to the gate. */
async function settle(conveyor: Conveyor, id: string, state: string): Promise<void> {
  for (let i = 0; i < 200 && conveyor.task(id)?.state !== state; i++) await new Promise((r) => setTimeout(r, 5));
  expect(conveyor.task(id)?.state).toBe(state);
}

async function taskAtDevelopmentGate(conveyor: Conveyor): Promise<string> {
  const { taskId } = await conveyor.createTask({ repo: 'shop', title: 'sleepy' }, { source: 'operator' });
  await settle(conveyor, taskId, 'analysis.gating');
  await conveyor.send(taskId, { type: 'analysis.approved' }, { source: 'operator' });
  await settle(conveyor, taskId, 'development.gating');
  return taskId;
}

describe('a task waiting on a far deadline', () => {
  it('sleeps without a live actor and still escalates when its gate deadline passes', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'conveyor-sleep-'));
    dirs.push(dir);
    const clock = new SimulatedClock();
    clock.set(1_000_000);
    const conveyor = await conveyorAt(dir, clock);
    const id = await taskAtDevelopmentGate(conveyor);
    expect(conveyor.status().tasks).toMatchObject({ live: 0, sleeping: 1 });

    clock.increment(2 * HOUR - 61_000);
    await new Promise((r) => setTimeout(r, 20));
    expect(conveyor.task(id)?.state).toBe('development.gating');
    // Woken a minute ahead: the actor and its gate timer are live again, and the timer fires on time.
    clock.increment(2_000);
    await new Promise((r) => setTimeout(r, 20));
    expect(conveyor.status().tasks).toMatchObject({ live: 1, sleeping: 0 });
    clock.increment(60_000);
    await settle(conveyor, id, 'escalated');
    expect(conveyor.task(id)?.context.escalation?.reason).toMatch(/ciGreen did not turn green in time/);
  });

  it('sleeps after a restart too, and an event wakes it at once', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'conveyor-sleep-'));
    dirs.push(dir);
    const clock = new SimulatedClock();
    clock.set(1_000_000);
    const first = await conveyorAt(dir, clock);
    const id = await taskAtDevelopmentGate(first);
    await first.stop();
    open.splice(open.indexOf(first), 1);

    const second = await conveyorAt(dir, clock);
    expect(second.status().tasks).toMatchObject({ live: 0, sleeping: 1 });
    const head = 'a'.repeat(40);
    await second.send(id, { type: 'pr.opened', number: 1, sha: head }, { source: 'webhook' });
    await second.send(id, { type: 'ci.status', sha: head, state: 'success', context: 'ci' }, { source: 'webhook' });
    await settle(second, id, 'review.gating');
  });
});
