import { getStateNodes } from '@xstate/graph';
import { describe, expect, it } from 'vitest';
import type { AnyStateMachine } from 'xstate';
import { Outbox, type BackgroundConfig, type Conveyor } from '../../actors/index.ts';
import { CHILD_NAMES, supervisor, sweepLoop, type ChildName } from '../../machines/index.ts';
import { flakyLoop } from '../support/flaky-loop.ts';
import { PowerCutWorld } from './power-cut-world.ts';

const START = Date.UTC(2026, 0, 5, 9);
const MINUTE = 60_000;
const config: BackgroundConfig = {
  reconciler: { intervalMs: 5 * MINUTE },
  reaper: { intervalMs: 3 * MINUTE },
  supervisor: { backoffBaseMs: MINUTE, backoffMaxMs: 10 * MINUTE, windowMs: 60 * MINUTE, maxRestarts: 1 },
};

/** The states of a background machine that wait on a timer: each must fire after a power cut. */
function timedStates(name: string, machine: AnyStateMachine): string[] {
  return getStateNodes(machine.root)
    .filter((node) => node.invoke.some((i) => i.src === 'timer'))
    .map((node) => `${name}:${node.path.join('.')}`);
}

interface Persisted {
  context: { deadlines: Record<ChildName, number | null>; healthDeadline: number | null };
  children: Record<ChildName, { snapshot: { context: { nextAt: number } } }>;
}

/** The supervisor's snapshot as the store holds it now: what a power cut leaves. */
const persisted = (world: PowerCutWorld) => world.conveyor.runtime.read<{ snapshot: Persisted }>('meta', 'background:supervisor')!.snapshot;
const status = (world: PowerCutWorld) => world.background!.status();

/** A world whose loops crash while `crash.on` holds (flaky for `child` only, or for none). */
function open(seed: number, child: ChildName | null, crash = { on: false, count: 0 }, more: (c: Conveyor) => object = () => ({})) {
  return PowerCutWorld.open({
    seed, start: START,
    background: (conveyor) => ({ config, ...(child ? { loops: { [child]: flakyLoop(conveyor.runtime.clock, crash) } } : {}), ...more(conveyor) }),
  });
}

/** How each timed state is reached, cut and shown to fire: keyed by machine and state path. */
const scenarios: Record<string, (seed: number) => Promise<void>> = {
  'sweepLoop:idle': async (seed) => {
    const world = await open(seed, null);
    // Mid-interval: a loop started afresh would sweep one whole interval after the power cut.
    await world.advanceTo(START + 7 * MINUTE);
    const due = Object.fromEntries(CHILD_NAMES.map((name) => [name, persisted(world).children[name].snapshot.context.nextAt]));
    expect(due).toEqual({ reconciler: START + 10 * MINUTE, reaper: START + 9 * MINUTE });
    await world.powerCut();
    const swept: Record<string, number> = {};
    const both = () => {
      for (const name of CHILD_NAMES) if (world.background!.counters[name].ticks > 0) swept[name] ??= world.clock.now();
      return Object.keys(swept).length === CHILD_NAMES.length;
    };
    expect(await world.runUntil(both, START + 10 * MINUTE), 'both loops sweep after the power cut').toBe(true);
    expect(swept, 'each at its persisted deadline').toEqual(due);
  },
  ...Object.fromEntries(CHILD_NAMES.map((name) => [`supervisor:${name}.backoff`, async (seed: number) => {
    const crash = { on: true, count: 0 };
    const world = await open(seed, name, crash);
    expect(status(world)[name].state).toBe('backoff');
    const due = persisted(world).context.deadlines[name]!;
    expect(due).toBe(START + MINUTE);
    await world.advanceTo(START + MINUTE / 2);
    crash.on = false;
    await world.powerCut();
    expect(status(world)[name].state, 'still backing off after the power cut').toBe('backoff');
    expect(await world.runUntil(() => status(world)[name].state === 'idle', due)).toBe(true);
    expect(world.clock.now()).toBe(due);
    expect(status(world).supervisor.byChild[name]).toBe(1);
  }])),
  'supervisor:health.degraded': async (seed) => {
    const crash = { on: true, count: 0 };
    const world = await open(seed, 'reaper', crash);
    // The second restart within the window is past maxRestarts (1): degraded until the first leaves the window.
    expect(await world.runUntil(() => status(world).supervisor.degraded, START + 2 * MINUTE)).toBe(true);
    crash.on = false;
    const due = persisted(world).context.healthDeadline!;
    expect(due).toBe(START + 60 * MINUTE);
    await world.advanceTo(START + 30 * MINUTE);
    await world.powerCut();
    expect(status(world).supervisor.degraded, 'still degraded after the power cut').toBe(true);
    expect(await world.runUntil(() => !status(world).supervisor.degraded, due)).toBe(true);
    expect(world.clock.now()).toBe(due);
  },
};

describe('every timed state of the background machines fires after a power cut', () => {
  const timed = [...timedStates('supervisor', supervisor), ...timedStates('sweepLoop', sweepLoop)];

  it('has a scenario for each of them', () => {
    expect(timed.length).toBeGreaterThanOrEqual(4);
    expect(timed.filter((t) => !(t in scenarios))).toEqual([]);
  });

  for (const [i, state] of timed.entries()) {
    it(`${state}: restored from the store, its timer fires at its deadline`, () => scenarios[state]!(i + 1));
  }
});

describe('timers outside the machines run again after a power cut', () => {
  it('the outbox retries a message at the time it stored, not one backoff after the restart', async () => {
    const webhook = { up: false, posts: [] as number[] };
    const world = await open(1, null, undefined, (conveyor) => {
      const rt = conveyor.runtime;
      const fetch = (async () => {
        webhook.posts.push(rt.clock.now());
        return new Response(null, { status: webhook.up ? 200 : 503 });
      }) as typeof globalThis.fetch;
      return { outbox: new Outbox({ store: rt, clock: rt.clock, bootId: rt.bootId, webhookUrl: 'http://hooks.sim/notify', log: () => undefined, baseBackoffMs: 10 * MINUTE, fetch }) };
    });
    await world.background!.outbox.notify({ kind: 'test', text: 'hello' });
    await world.runUntil(() => webhook.posts.length === 1, START);
    const [record] = world.background!.outbox.pending();
    expect(record).toMatchObject({ attempts: 1, nextAt: START + 10 * MINUTE });
    await world.advanceTo(START + 4 * MINUTE);
    webhook.up = true;
    await world.powerCut();
    expect(await world.runUntil(() => world.background!.outbox.pending().length === 0, START + 10 * MINUTE)).toBe(true);
    expect(webhook.posts).toEqual([START, START + 10 * MINUTE]);
  });

  it('the retention loop sweeps one interval after the restart', async () => {
    const world = await open(1, null, undefined, () => ({ retention: { archiveAfterMs: 86_400_000, deliveryWindowMs: 86_400_000, intervalMs: 20 * MINUTE } }));
    await world.advanceTo(START + 30 * MINUTE);
    expect(world.background!.retention!.stats.sweeps).toBe(1);
    await world.powerCut();
    expect(await world.runUntil(() => world.background!.retention!.stats.sweeps === 1, START + 50 * MINUTE)).toBe(true);
    expect(world.clock.now()).toBe(START + 50 * MINUTE);
  });
});
