import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SimulatedClock } from 'xstate';
import { Background, Conveyor, systemClock, TaskArchive, type Clock } from '../../actors/index.ts';
import { createApp } from '../../server/app.ts';
import { defaultTrackerRouting } from '../../server/default-tracker.ts';
import { EmbeddedStore, MAX_ALERTS } from '../../store/index.ts';
import { apiCaller, waitForState } from '../support/http-fixtures.ts';

const DAY = 24 * 3_600_000;
const dirs: string[] = [];
const open: Conveyor[] = [];
afterEach(async () => {
  for (const c of open.splice(0)) await c.stop();
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

/** A clock whose now moves only when told; timers run on the system's. */
function movableClock(start: number): Clock & { advance(ms: number): void } {
  let now = start;
  return { ...systemClock, now: () => now, advance: (ms) => (now += ms) };
}

async function conveyorIn(dir: string, clock: Clock): Promise<{ conveyor: Conveyor; store: EmbeddedStore }> {
  const store = new EmbeddedStore({ dir, clock });
  const conveyor = new Conveyor({ store, clock, archive: new TaskArchive(dir) });
  await conveyor.start();
  open.push(conveyor);
  return { conveyor, store };
}

describe('retention', () => {
  it('moves a finished task past its age to the archive, where the API still shows it and its history, across a restart', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'conveyor-retention-'));
    dirs.push(dir);
    const clock = movableClock(Date.UTC(2026, 0, 1));
    const { conveyor, store } = await conveyorIn(dir, clock);
    const { taskId: finished } = await conveyor.createTask({ repo: 'app', title: 'Old work' }, { source: 'operator', deliveryKey: 'forge:body:old' });
    await waitForState(conveyor, finished, 'analysis.gating');
    await conveyor.send(finished, { type: 'task.cancel', reason: 'superseded' }, { source: 'operator' });
    await waitForState(conveyor, finished, 'cancelled');
    const { taskId: active } = await conveyor.createTask({ repo: 'app', title: 'Ongoing' }, { source: 'operator' });
    const historyBefore = conveyor.history(finished);

    clock.advance(29 * DAY);
    expect(await conveyor.retain()).toBe(0);
    clock.advance(2 * DAY);
    expect(await conveyor.retain()).toBe(1);

    expect(store.getTask(finished)).toBeUndefined();
    expect(store.getHistory(finished)).toEqual([]);
    expect(store.taskCount()).toBe(1);
    expect(store.hasDelivery('forge:body:old')).toBe(false);
    expect(conveyor.tasks().map((t) => t.id)).toEqual([active]);

    const api = apiCaller(createApp({ conveyor, apiToken: 'tok', trackerSecret: 't', forgeSecret: 'f', tracker: defaultTrackerRouting }));
    const res = await api('GET', `/tasks/${finished}`, undefined, 'tok');
    expect(res.status).toBe(200);
    expect(((await res.json()) as { task: { stage: string } }).task.stage).toBe('cancelled');
    const history = await api('GET', `/tasks/${finished}/history`, undefined, 'tok');
    expect(((await history.json()) as { history: unknown[] }).history).toEqual(historyBefore);

    await conveyor.stop();
    open.splice(0);
    const again = await conveyorIn(dir, clock);
    expect(again.store.getTask(finished)).toBeUndefined();
    expect(again.conveyor.task(finished)?.stage).toBe('cancelled');
    expect(again.conveyor.history(finished)).toEqual(historyBefore);
  });

  it("takes a finished task's jobs, effects and decisions out of the live document with it, and the API still shows them", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'conveyor-retention-'));
    dirs.push(dir);
    const clock = movableClock(Date.UTC(2026, 0, 1));
    const { conveyor, store } = await conveyorIn(dir, clock);
    const records = (taskId: string, n: string) => [
      { kind: 'put' as const, collection: 'jobs' as const, id: `${taskId}.j${n}`, value: { id: `${taskId}.j${n}`, taskId, stage: 'development', status: 'succeeded', requestedAt: clock.now() } },
      { kind: 'put' as const, collection: 'effects' as const, id: `${taskId}:merge:${n}`, value: { key: `${taskId}:merge:${n}`, taskId, effect: 'mergePullRequest', status: 'completed', startedAt: clock.now() } },
      { kind: 'put' as const, collection: 'decisions' as const, id: `${taskId}.d${n}`, value: { id: `${taskId}.d${n}`, taskId, status: 'resolved' } },
    ];
    const { taskId: finished } = await conveyor.createTask({ repo: 'app', title: 'Old work' }, { source: 'operator' });
    const { taskId: active } = await conveyor.createTask({ repo: 'app', title: 'Ongoing' }, { source: 'operator' });
    await store.commit([...records(finished, '1'), ...records(finished, '2'), ...records(active, '1')]);
    await conveyor.send(finished, { type: 'task.cancel', reason: 'superseded' }, { source: 'operator' });
    await waitForState(conveyor, finished, 'cancelled');
    const jobsBefore = conveyor.jobsOf(finished);
    const effectsBefore = conveyor.effects({ taskId: finished });
    expect(jobsBefore).toHaveLength(2);

    clock.advance(31 * DAY);
    expect(await conveyor.retain()).toBe(1);

    for (const collection of ['jobs', 'effects', 'decisions'] as const) {
      expect(store.list<{ taskId: string }>(collection).map((r) => r.taskId), collection).toEqual([active]);
    }
    const api = apiCaller(createApp({ conveyor, apiToken: 'tok', trackerSecret: 't', forgeSecret: 'f', tracker: defaultTrackerRouting }));
    const res = await api('GET', `/tasks/${finished}`, undefined, 'tok');
    const body = (await res.json()) as { jobs: unknown[]; effects: unknown[] };
    expect(body.jobs).toEqual(jobsBefore);
    expect(body.effects).toEqual(effectsBefore);

    await conveyor.stop();
    open.splice(0);
    const again = await conveyorIn(dir, clock);
    expect(again.store.list('jobs')).toHaveLength(1);
    expect(again.conveyor.jobsOf(finished)).toEqual(jobsBefore);
  });

  it('is swept by the background actors every interval on the runtime clock, and no longer once they stop', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'conveyor-retention-'));
    dirs.push(dir);
    const clock = new SimulatedClock();
    clock.set(Date.UTC(2026, 0, 1));
    const { conveyor } = await conveyorIn(dir, clock);
    const cancelled = async () => {
      const { taskId } = await conveyor.createTask({ repo: 'app', title: 'Dropped' }, { source: 'operator' });
      await conveyor.send(taskId, { type: 'task.cancel', reason: 'dropped' }, { source: 'operator' });
      return taskId;
    };
    const first = await cancelled();
    const background = new Background({ conveyor, clock, retention: { archiveAfterMs: DAY, deliveryWindowMs: 7 * DAY, intervalMs: 3_600_000 } });
    background.start();
    clock.increment(23 * 3_600_000);
    await background.settled();
    expect(conveyor.tasks().map((t) => t.id)).toEqual([first]);
    clock.increment(2 * 3_600_000);
    await background.settled();
    expect(conveyor.tasks()).toEqual([]);
    expect(conveyor.task(first)?.stage).toBe('cancelled');
    expect(background.retention?.stats).toMatchObject({ archived: 1, failures: 0 });

    const second = await cancelled();
    await background.stop();
    clock.increment(3 * DAY);
    await background.settled();
    expect(conveyor.tasks().map((t) => t.id)).toEqual([second]);
  });

  it('keeps at most the bounded number of alerts, dropping the oldest', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'conveyor-alerts-'));
    dirs.push(dir);
    const { conveyor, store } = await conveyorIn(dir, movableClock(0));
    for (let i = 0; i < MAX_ALERTS + 5; i++) await conveyor.recordUnrouted(`forge:body:${i}`, { n: i }, 'no task');
    const ids = store.entries('alerts').map(([id]) => id);
    expect(ids).toHaveLength(MAX_ALERTS);
    expect(ids[0]).toBe('forge:body:5');
    expect(ids.at(-1)).toBe(`forge:body:${MAX_ALERTS + 4}`);
  });
});
