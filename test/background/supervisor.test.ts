import { afterEach, describe, expect, it } from 'vitest';
import type { Background, BackgroundConfig } from '../../actors/index.ts';
import { flakyLoop } from '../support/flaky-loop.ts';
import { makeWorld, type World } from './harness.ts';

const config: BackgroundConfig = {
  reconciler: { intervalMs: 1_000 },
  reaper: { intervalMs: 1_000 },
  supervisor: { backoffBaseMs: 1_000, backoffMaxMs: 60_000, windowMs: 60_000, maxRestarts: 3 },
};

describe('supervisor', () => {
  let world: World;
  afterEach(async () => world?.close());

  it('restarts a crashing loop with exponential backoff', async () => {
    world = await makeWorld();
    const crash = { on: true, count: 0 };
    const bg = world.background({ config, loops: { reaper: flakyLoop(world.clock, crash) } });
    bg.start();
    await world.advance(0);
    expect(crash.count).toBe(1);
    const seen: number[] = [];
    for (const wait of [1_000, 2_000, 4_000]) {
      await world.advance(wait - 1);
      seen.push(crash.count);
      await world.advance(1);
      seen.push(crash.count);
    }
    expect(seen).toEqual([1, 2, 2, 3, 3, 4]);
    expect(world.logs.filter((l) => l.startsWith('supervisor: reaper failed (loop broke); restarting it in')).map((l) => l.split(' in ')[1])).toEqual(['1000 ms', '2000 ms', '4000 ms', '8000 ms']);
    expect(bg.status().reconciler.state).toBe('idle');
  });

  it('marks the runtime degraded past K restarts in the window, alerts once, and recovers when the window passes', async () => {
    world = await makeWorld();
    const crash = { on: true, count: 0 };
    const bg = world.background({ config, loops: { reaper: flakyLoop(world.clock, crash) } });
    bg.start();
    for (const wait of [0, 1_000, 2_000]) await world.advance(wait);
    expect(bg.status().supervisor).toMatchObject({ state: 'running', restarts: 3, degraded: false });
    await world.advance(4_000);
    expect(bg.status().supervisor).toMatchObject({ state: 'degraded', restarts: 4, degraded: true });
    await world.advance(8_000);
    expect(bg.status().supervisor).toMatchObject({ restarts: 5, degraded: true });
    const alerts = world.conveyor.alerts() as { kind: string }[];
    expect(alerts.filter((a) => a.kind === 'supervisor_degraded')).toHaveLength(1);
    expect(world.logs.filter((l) => l.startsWith('notify: supervisor: degraded'))).toHaveLength(1);
    crash.on = false;
    await world.advance(16_000);
    expect(bg.status().reaper.state).toBe('idle');
    await world.advance(60_000);
    expect(bg.status().supervisor).toMatchObject({ state: 'running', degraded: false, restarts: 5 });
    expect(world.logs.filter((l) => l.includes('healthy again'))).toHaveLength(1);
  });

  it('keeps its loop deadline after being restored from a persisted snapshot', async () => {
    world = await makeWorld();
    const first = world.background({ config });
    first.start();
    await world.advance(1_500);
    expect(first.counters.reconciler.ticks).toBe(1);
    const persisted = JSON.parse(JSON.stringify(first.persisted())) as unknown;
    await first.stop();
    const restored = world.background({ config, snapshot: persisted });
    restored.start();
    await world.advance(0);
    expect(restored.counters.reconciler.ticks).toBe(0);
    // The next sweep was due at 2500 ms (one interval after the first one finished at 1500 ms).
    await world.advance(999);
    expect(restored.counters.reconciler.ticks).toBe(0);
    await world.advance(1);
    expect(restored.counters.reconciler.ticks).toBe(1);
  });

  it('keeps a restart backoff deadline after being restored from a persisted snapshot', async () => {
    world = await makeWorld();
    const crash = { on: true, count: 0 };
    const first: Background = world.background({ config, loops: { reaper: flakyLoop(world.clock, crash) } });
    first.start();
    await world.advance(0);
    await world.advance(1_000);
    expect(first.status().reaper.state).toBe('backoff');
    const persisted = JSON.parse(JSON.stringify(first.persisted())) as unknown;
    await first.stop();
    crash.on = false;
    const restored = world.background({ config, snapshot: persisted, loops: { reaper: flakyLoop(world.clock, crash) } });
    restored.start();
    await world.advance(1_999);
    expect(restored.status().reaper.state).toBe('backoff');
    await world.advance(1);
    expect(restored.status().reaper.state).toBe('idle');
    expect(restored.status().supervisor.restarts).toBe(2);
  });

  it('keeps its degraded mark and the time it clears after being restored from a persisted snapshot', async () => {
    world = await makeWorld();
    const crash = { on: true, count: 0 };
    const first = world.background({ config, loops: { reaper: flakyLoop(world.clock, crash) } });
    first.start();
    for (const wait of [0, 1_000, 2_000, 4_000]) await world.advance(wait);
    expect(first.status().supervisor).toMatchObject({ state: 'degraded', restarts: 4 });
    const persisted = JSON.parse(JSON.stringify(first.persisted())) as unknown;
    await first.stop();
    crash.on = false;
    const restored = world.background({ config, snapshot: persisted, loops: { reaper: flakyLoop(world.clock, crash) } });
    restored.start();
    await world.advance(8_000);
    expect(restored.status().reaper.state).toBe('idle');
    expect(restored.status().supervisor.state).toBe('degraded');
    // Four restarts at 0, 1, 3 and 7 s: at 60 s the first leaves the 60 s window, and three are within the limit.
    await world.advance(44_999);
    expect(restored.status().supervisor.state).toBe('degraded');
    await world.advance(1);
    expect(restored.status().supervisor).toMatchObject({ state: 'running', degraded: false, restarts: 4 });
  });
});

describe('supervisor across a restart of conveyor', () => {
  let world: World;
  afterEach(async () => world?.close());

  it('keeps its restart count through its persisted snapshot, unless the settings changed', async () => {
    world = await makeWorld();
    const crash = { on: true, count: 0 };
    const kept: unknown[] = [];
    const persist = async (snapshot: unknown) => void kept.push(snapshot);
    const first = world.background({ config, loops: { reaper: flakyLoop(world.clock, crash) }, persist });
    first.start();
    for (const wait of [0, 1_000]) await world.advance(wait);
    expect(first.status().supervisor).toMatchObject({ restarts: 2 });
    await first.stop();

    crash.on = false;
    const second = world.background({ config, loops: { reaper: flakyLoop(world.clock, crash) }, snapshot: kept.at(-1) });
    second.start();
    await world.advance(0);
    expect(second.status().supervisor).toMatchObject({ restarts: 2 });
    await second.stop();

    const changed = { ...config, reaper: { intervalMs: 2_000 } };
    const third = world.background({ config: changed, loops: { reaper: flakyLoop(world.clock, crash) }, snapshot: kept.at(-1) });
    third.start();
    await world.advance(0);
    expect(third.status().supervisor).toMatchObject({ restarts: 0 });
  });
});
