import { afterEach, describe, expect, it } from 'vitest';
import { startBackground, type BackgroundConfig } from '../../actors/index.ts';
import { createApp } from '../../server/app.ts';
import { defaultTrackerRouting } from '../../server/default-tracker.ts';
import { makeWorld, type World } from './harness.ts';

const TOKEN = 'background-api-token';
const config: BackgroundConfig = { reconciler: { intervalMs: 1_000 }, reaper: { intervalMs: 1_000 } };

function api(world: World) {
  const app = createApp({ conveyor: world.conveyor, apiToken: TOKEN, trackerSecret: 't', forgeSecret: 'f', tracker: defaultTrackerRouting });
  return (method: string, path: string) => app.request(`/api${path}`, { method, headers: { authorization: `Bearer ${TOKEN}` } });
}

async function ticks(world: World, n: number): Promise<void> {
  for (let i = 0; i < n; i++) await world.advance(1_000);
}

describe('background actors', () => {
  let world: World;
  afterEach(async () => world?.close());

  it('stops ticking when switched off by an operator and ticks again when switched back on', async () => {
    world = await makeWorld();
    const bg = world.background({ config });
    bg.start();
    world.conveyor.attachBackground(bg);
    const call = api(world);
    await ticks(world, 3);
    expect(bg.counters.reconciler.ticks).toBe(3);
    const off = await call('POST', '/background/reconciler/disable');
    expect(off.status).toBe(200);
    expect(await off.json()).toEqual({ background: { ok: true, name: 'reconciler', enabled: false, state: 'disabled' } });
    await ticks(world, 5);
    expect(bg.counters.reconciler.ticks).toBe(3);
    expect(bg.counters.reaper.ticks).toBe(8);
    expect((await call('POST', '/background/reconciler/enable')).status).toBe(200);
    await world.advance(0);
    expect(bg.counters.reconciler.ticks).toBe(4);
    await ticks(world, 2);
    expect(bg.counters.reconciler.ticks).toBe(6);
    const unknown = await call('POST', '/background/janitor/disable');
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ error: { code: 'not_found', field: 'name' } });
  });

  it('counts a failed sweep and sweeps again on the next tick', async () => {
    world = await makeWorld();
    const bg = world.background({ config });
    const sweep = bg.reconciler.sweep.bind(bg.reconciler);
    let broken = true;
    bg.reconciler.sweep = () => (broken ? Promise.reject(new Error('the store is unreadable')) : sweep());
    bg.start();
    await ticks(world, 3);
    expect(bg.status().reconciler).toMatchObject({ state: 'idle', errors: 3, ticks: 0 });
    expect(world.logs.filter((l) => l.startsWith('reconciler: sweep failed, the loop goes on: Error: the store is unreadable'))).toHaveLength(3);
    broken = false;
    await ticks(world, 2);
    expect(bg.status().reconciler).toMatchObject({ state: 'idle', errors: 3, ticks: 2 });
    expect(bg.status().supervisor.restarts).toBe(0);
  });

  it('starts a loop switched off by configuration, which an operator can switch on', async () => {
    world = await makeWorld();
    const bg = world.background({ config: { ...config, reaper: { intervalMs: 1_000, enabled: false } } });
    bg.start();
    await ticks(world, 4);
    expect(bg.status().reaper).toMatchObject({ state: 'disabled', enabled: false, ticks: 0 });
    expect(bg.setEnabled('reaper', true)).toMatchObject({ ok: true, state: 'idle' });
    await ticks(world, 2);
    expect(bg.status().reaper).toMatchObject({ enabled: true, ticks: 2 });
  });

  it('shows the background figures in GET /api/status and stops with the conveyor', async () => {
    world = await makeWorld();
    const bg = startBackground(world.conveyor, { config: null, tracker: defaultTrackerRouting, env: {}, log: () => undefined });
    for (let i = 0; i < 2; i++) {
      world.clock.increment(15_000);
      await bg.settled();
    }
    const res = await api(world)('GET', '/status');
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({
      reconciler: { ticks: 1, unblockedTotal: 0, lastUnblocked: null, skippedTerminalTotal: 0, dedupedTotal: 0, errors: 0, state: 'idle' },
      reaper: { ticks: 2, reapedTotal: 0, byTier: { 1: 0, 2: 0, 3: 0 }, finalizerDefers: 0, errors: 0 },
      supervisor: { state: 'running', restarts: 0, degraded: false },
    });
    await world.conveyor.stop();
    expect(bg.status().supervisor.state).toBe('stopped');
    expect(bg.status().reconciler.state).toBe('stopped');
  });

  it('answers 503 on the switch when no background runs', async () => {
    world = await makeWorld();
    const res = await api(world)('POST', '/background/reaper/disable');
    expect(res.status).toBe(503);
    expect((await (await api(world)('GET', '/status')).json()) as object).toMatchObject({ reconciler: null, reaper: null, supervisor: null });
  });
});
