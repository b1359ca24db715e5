import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { serve, type ServerType } from '@hono/node-server';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Conveyor, Workbench } from '../../actors/index.ts';
import { createApp } from '../../server/app.ts';
import { defaultTrackerRouting } from '../../server/default-tracker.ts';
import { demoWorkbenchOptions, startDemo, type Demo } from '../../server/demo/index.ts';
import { LiveEvents } from '../../server/events/index.ts';
import { EmbeddedStore } from '../../store/index.ts';
import { launchChromium, screenshot } from '../support/browser.ts';

const API_TOKEN = 'console-api-token';
const SECRETS = { apiToken: API_TOKEN, trackerSecret: 'console-tracker-secret', forgeSecret: 'console-forge-secret' };

// One real conveyor on loopback with the demo's agents, tracker and forge, and one browser, for all tests.
let dir: string;
let conveyor: Conveyor;
let live: LiveEvents;
let server: ServerType;
let baseUrl: string;
let demo: Demo | null = null;
let browser: Browser;
let page: Page;
const listRequests: string[] = [];
/** Tasks made by hand while the demo runs; nobody but the operator approves them. */
const handMade = { approved: '', held: '' };
const notFound: string[] = [];

async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${baseUrl}/api${path}`, {
    method,
    headers: { authorization: `Bearer ${API_TOKEN}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return (await res.json()) as T;
}

const createTask = async (title: string) => (await api<{ task: { id: string } }>('POST', '/tasks', { repo: 'demo', title })).task.id;
const row = (taskId: string) => page.locator(`#tasks tr[data-task="${taskId}"]`);
const stateCell = (taskId: string) => row(taskId).locator('td').nth(3);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'conveyor-console-'));
  const launching = launchChromium();
  conveyor = new Conveyor({
    store: new EmbeddedStore({ dir }),
    // Enough job slots that the tasks made by hand never queue behind the demo's.
    workbench: new Workbench({ ...(await demoWorkbenchOptions(dir)), limits: { globalJobs: 12, perRepoJobs: 12 }, apiBase: () => baseUrl }),
  });
  await conveyor.start();
  live = new LiveEvents(conveyor);
  const app = createApp({ conveyor, live, ...SECRETS, tracker: defaultTrackerRouting });
  const port = await new Promise<number>((resolve) => {
    server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info: AddressInfo) => resolve(info.port));
  });
  baseUrl = `http://127.0.0.1:${port}`;
  browser = await launching;
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.on('request', (r) => {
    if (/\/api\/tasks(\?|$)/.test(new URL(r.url()).pathname + new URL(r.url()).search.slice(0, 1))) listRequests.push(r.url());
  });
  page.on('response', (r) => {
    if (r.status() === 404) notFound.push(r.url());
  });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await demo?.stop();
  live?.close();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  await conveyor?.stop();
  // Agents of tasks still under way are killed with their process groups; give them a moment.
  await delay(300);
  await rm(dir, { recursive: true, force: true });
}, 30_000);

beforeEach(({ task, onTestFailed }) => {
  onTestFailed(async () => {
    const file = await screenshot(page, task.name);
    console.error(`console test failed; screenshot at ${file}`);
  });
});

describe('the console in a browser', () => {
  it('logs in and shows the demo tasks moving live, without polling and without a missing favicon', async () => {
    await page.goto(`${baseUrl}/console`);
    await page.fill('#token', API_TOKEN);
    await page.click('#login button');
    await expect.poll(() => page.textContent('#live')).toBe('live');
    expect(await page.textContent('#tasks tbody')).toContain('no tasks');

    demo = await startDemo({ conveyor, baseUrl, dataDir: dir, ...SECRETS, log: () => {} });
    handMade.approved = await createTask('Approved from the console');
    handMade.held = await createTask('Held from the console');
    // Rows appear as the tracker opens its issues, and change state as the tasks move.
    await page.locator('#tasks tr[data-task]').nth(4).waitFor({ timeout: 15_000 });
    const first = demo.taskIds()[0]!;
    const seen = new Set<string>();
    await expect
      .poll(async () => {
        seen.add((await stateCell(first).textContent()) ?? '');
        return seen.size;
      }, { timeout: 20_000, interval: 50 })
      .toBeGreaterThanOrEqual(3);
    // The list was loaded once, at login; everything since came over the stream.
    expect(listRequests).toHaveLength(1);
    expect(notFound).toEqual([]);
    expect(await page.getAttribute('link[rel=icon]', 'href')).toBe('/console/assets/favicon.svg');
    // The rest needs no simulated tracker and forge; without them the demo's tasks rest at their gates.
    await demo.stop();
  }, 45_000);

  it('approves a decision through the confirmation dialog, and the task leaves the gate', async () => {
    const taskId = handMade.approved;
    const decision = page.locator('#decisions li', { hasText: taskId });
    await decision.waitFor({ timeout: 15_000 });
    await decision.getByRole('button', { name: 'Approve' }).click();

    await expect.poll(() => page.isVisible('#confirm')).toBe(true);
    expect(await page.textContent('#confirm-title')).toBe('Answer "Approve"');
    expect(await page.textContent('#confirm-text')).toContain(taskId);
    await page.click('#confirm-ok');

    await expect.poll(() => stateCell(taskId).textContent(), { timeout: 15_000 }).not.toMatch(/^analysis/);
    await decision.waitFor({ state: 'detached' });
    const answered = await api<{ decisions: { taskId: string; status: string; resolution: string; by: string }[] }>('GET', '/decisions?status=resolved');
    expect(answered.decisions.find((d) => d.taskId === taskId)).toMatchObject({ resolution: 'Approve', by: 'console' });
  }, 30_000);

  it('holds a task and resumes it, each after a confirmation', async () => {
    const taskId = handMade.held;
    await expect.poll(() => stateCell(taskId).textContent(), { timeout: 15_000 }).toBe('analysis.gating');
    await row(taskId).click();
    await expect.poll(() => page.textContent('#detail-title')).toContain(taskId);

    await page.click('#actions [data-action=hold]');
    await page.fill('#confirm-reason', 'waiting for the design review');
    await page.click('#confirm-ok');
    await expect.poll(() => stateCell(taskId).textContent(), { timeout: 10_000 }).toBe('onHold');
    await expect.poll(() => page.textContent('#detail-state')).toContain('onHold');
    await expect.poll(() => page.textContent('#history')).toContain('task.hold');

    await page.click('#actions [data-action=resume]');
    await page.click('#confirm-ok');
    await expect.poll(() => stateCell(taskId).textContent(), { timeout: 10_000 }).toBe('analysis.gating');
    expect(await page.textContent('#history')).toContain('task.resume');
    const view = await api<{ task: { context: { hold: unknown } } }>('GET', `/tasks/${taskId}`);
    expect(view.task.context.hold).toBeNull();
  }, 30_000);

  it("reads a job's log", async () => {
    // The task held and resumed above is shown; its analyst has run.
    const job = page.locator('#jobs li', { hasText: 'analyst' }).first();
    await job.getByRole('button', { name: 'Log' }).click();
    await expect.poll(() => page.textContent('#log'), { timeout: 10_000 }).toContain('analyst: analysis posted to the tracker');
    expect(await page.textContent('#log-title')).toMatch(/^Log of job /);
  }, 20_000);
});
