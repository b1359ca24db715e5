import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { Conveyor, InProcessExecutor, startBackground, Workbench } from '../../actors/index.ts';
import { createApp } from '../../server/app.ts';
import { defaultTrackerRouting } from '../../server/default-tracker.ts';
import { EmbeddedStore } from '../../store/index.ts';
import {
  API_TOKEN, apiCaller, FORGE_SECRET, giteaDelivery, planeDelivery, planeIssue, pullRequest, TRACKER_SECRET, waitForState,
} from '../support/http-fixtures.ts';

const opened: { dir: string; conveyor: Conveyor }[] = [];

afterEach(async () => {
  for (const { dir, conveyor } of opened.splice(0)) {
    await conveyor.stop();
    await rm(dir, { recursive: true, force: true });
  }
});

/** A conveyor whose analyst is an in-process agent, with its background loops ticking fast, and its app. */
async function start(opts: { metricsToken?: string; checkpointEvery?: number } = {}) {
  const dir = await mkdtemp(join(tmpdir(), 'conveyor-metrics-'));
  const analyst = new InProcessExecutor(async () => {
    await delay(20);
    return 0;
  });
  const workbench = new Workbench({ dataDir: join(dir, 'data'), agents: { analyst: { executor: analyst } } });
  const conveyor = new Conveyor({ store: new EmbeddedStore({ dir: join(dir, 'store'), checkpointEvery: opts.checkpointEvery }), workbench });
  await conveyor.start();
  opened.push({ dir, conveyor });
  startBackground(conveyor, { config: null, tracker: defaultTrackerRouting, env: {}, log: () => undefined, overrides: { config: { reconciler: { intervalMs: 20 }, reaper: { intervalMs: 20 } } } });
  const app = createApp({ conveyor, apiToken: API_TOKEN, trackerSecret: TRACKER_SECRET, forgeSecret: FORGE_SECRET, tracker: defaultTrackerRouting, metricsToken: opts.metricsToken });
  const scrape = async (token?: string) => {
    const res = await app.request('/metrics', { headers: token ? { authorization: `Bearer ${token}` } : {} });
    return { res, text: await res.text() };
  };
  return { app, conveyor, api: apiCaller(app), scrape };
}

/** The value of one sample in exposition text: `name{labels} value`, labels in any order. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1], l[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[3]);
  }
  return undefined;
}

describe('GET /metrics', () => {
  it('shows the figures move as real work goes through', async () => {
    const { app, conveyor, api, scrape } = await start({ checkpointEvery: 5 });
    const before = (await scrape()).text;
    expect(sample(before, 'conveyor_webhooks_total', { source: 'tracker', outcome: 'accepted' })).toBeUndefined();
    expect(sample(before, 'conveyor_job_duration_seconds_count', { stage: 'analysis', outcome: 'succeeded' })).toBeUndefined();

    // A tracker webhook creates a task; its analyst job runs and finishes; a redelivery is a duplicate.
    const created = planeDelivery(planeIssue('ISS-1', 'state-in-progress', { updatedAt: '2026-01-01T00:00:00Z' }));
    expect((await app.request(created.path, { method: 'POST', headers: created.headers, body: created.body })).status).toBe(201);
    expect((await app.request(created.path, { method: 'POST', headers: created.headers, body: created.body })).status).toBe(200);
    const forged = planeDelivery(planeIssue('ISS-2', 'state-in-progress'), { secret: 'wrong' });
    expect((await app.request(forged.path, { method: 'POST', headers: forged.headers, body: forged.body })).status).toBe(401);
    const stray = giteaDelivery('pull_request', pullRequest('opened', 'nobody/branch', 'a'.repeat(40)));
    expect((await app.request(stray.path, { method: 'POST', headers: stray.headers, body: stray.body })).status).toBe(202);
    const taskId = conveyor.taskForIssue('ISS-1')!;
    await waitForState(conveyor, taskId, 'analysis.gating');
    // An operator's call shows in the request figures by its route pattern, not its path.
    expect((await api('POST', `/tasks/${taskId}/events`, { type: 'hold' })).status).toBe(200);
    const ticks = conveyor.status().reaper as { ticks: number };
    while ((conveyor.status().reaper as { ticks: number }).ticks < ticks.ticks + 2) await delay(10);

    const after = (await scrape()).text;
    expect(sample(after, 'conveyor_webhooks_total', { source: 'tracker', outcome: 'accepted' })).toBe(1);
    expect(sample(after, 'conveyor_webhooks_total', { source: 'tracker', outcome: 'duplicate' })).toBe(1);
    expect(sample(after, 'conveyor_webhooks_total', { source: 'tracker', outcome: 'refused' })).toBe(1);
    expect(sample(after, 'conveyor_webhooks_total', { source: 'forge', outcome: 'unrouted' })).toBe(1);
    expect(sample(after, 'conveyor_store_commit_seconds_count')).toBeGreaterThan(3);
    expect(sample(after, 'conveyor_store_batch_records_sum')).toBeGreaterThanOrEqual(sample(after, 'conveyor_store_batch_records_count')!);
    expect(sample(after, 'conveyor_store_fsync_seconds_count')).toBeGreaterThan(0);
    expect(sample(after, 'conveyor_store_checkpoint_seconds_count', { outcome: 'written' })).toBeGreaterThan(0);
    expect(sample(after, 'conveyor_tasks', { stage: 'onHold' })).toBe(1);
    expect(sample(after, 'conveyor_task_events_total', { outcome: 'accepted' })).toBeGreaterThan(2);
    expect(sample(after, 'conveyor_job_duration_seconds_count', { stage: 'analysis', outcome: 'succeeded' })).toBe(1);
    expect(sample(after, 'conveyor_background_ticks_total', { loop: 'reaper' })).toBeGreaterThan(1);
    expect(sample(after, 'conveyor_background_tick_seconds_count', { loop: 'reconciler', outcome: 'ok' })).toBeGreaterThan(0);
    expect(sample(after, 'conveyor_supervisor_degraded')).toBe(0);
    expect(sample(after, 'conveyor_decisions_open')).toBe(0);
    expect(sample(after, 'conveyor_alerts', { kind: 'unrouted_event', state: 'open' })).toBe(1);
    expect(sample(after, 'conveyor_task_actors', { state: 'live' })).toBeGreaterThanOrEqual(0);
    expect(sample(after, 'conveyor_http_request_duration_seconds_count', { method: 'POST', route: '/api/tasks/:id/events', status: '200' })).toBe(1);
  });

  it('keeps each conveyor’s figures apart in one process', async () => {
    const one = await start();
    const two = await start();
    const delivery = planeDelivery(planeIssue('ISS-9', 'state-in-progress'));
    await one.app.request(delivery.path, { method: 'POST', headers: delivery.headers, body: delivery.body });
    expect(sample((await one.scrape()).text, 'conveyor_webhooks_total', { source: 'tracker', outcome: 'accepted' })).toBe(1);
    expect(sample((await two.scrape()).text, 'conveyor_webhooks_total', { source: 'tracker', outcome: 'accepted' })).toBeUndefined();
  });

  it('asks for the metrics token when one is set, and takes no other', async () => {
    const { scrape } = await start({ metricsToken: 'scrape-me' });
    expect((await scrape()).res.status).toBe(401);
    expect((await scrape(API_TOKEN)).res.status).toBe(401);
    const ok = await scrape('scrape-me');
    expect(ok.res.status).toBe(200);
    expect(ok.res.headers.get('content-type')).toContain('text/plain');
    expect(ok.text).toContain('# TYPE conveyor_webhooks_total counter');
  });
});
