import { appendFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { serve, type ServerType } from '@hono/node-server';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { claudeCode, Conveyor, InProcessExecutor, Workbench, type AgentSetup, type JobRecord } from '../../actors/index.ts';
import { createApp } from '../../server/app.ts';
import { defaultTrackerRouting } from '../../server/default-tracker.ts';
import { DEMO_ISSUES, SimTracker } from '../../server/demo/sim-tracker.ts';
import { LiveEvents } from '../../server/events/index.ts';
import { EmbeddedStore } from '../../store/index.ts';
import { launchChromium, screenshot } from '../support/browser.ts';
import { CLAUDE_TRANSCRIPT } from '../support/fake-agent.ts';

const API_TOKEN = 'console-api-token';
const SECRETS = { apiToken: API_TOKEN, trackerSecret: 'console-tracker-secret', forgeSecret: 'console-forge-secret' };

// One real conveyor on loopback and one browser for all tests. The demo's simulated tracker opens its
// issues and approves their analyses with signed webhooks; agents run in-process in plain directories
// (no git), so the tests spend their time in the console rather than in worktrees.
let dir: string;
let conveyor: Conveyor;
let live: LiveEvents;
let server: ServerType;
let baseUrl: string;
let tracker: SimTracker | null = null;
let browser: Browser;
let page: Page;
const listRequests: string[] = [];
/** Tasks made by hand while the demo runs; the tracker approves only its own issues, never these. */
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
/** Lets the agent of the task titled WATCHED finish the second half of its transcript. */
const WATCHED = 'Watch the agent work';
let releaseWatched: () => void = () => undefined;
const watchedMayFinish = new Promise<void>((resolve) => (releaseWatched = resolve));
/** A demo agent: a few lines of log, a moment's work, exit 0. The watched task's analyst speaks Claude Code's stream-json, in two halves. */
function agent(name: string): AgentSetup {
  const executor = new InProcessExecutor(async (spec) => {
    await appendFile(spec.logPath, `${name}: working on ${spec.taskId} (attempt ${spec.attempt})\n`);
    if (conveyor.task(spec.taskId)?.title === WATCHED) {
      const lines = (await readFile(CLAUDE_TRANSCRIPT, 'utf8')).split('\n').filter(Boolean);
      const half = Math.floor(lines.length / 2);
      for (const line of lines.slice(0, half)) await appendFile(spec.logPath, `${line}\n`);
      await watchedMayFinish;
      for (const line of lines.slice(half)) await appendFile(spec.logPath, `${line}\n`);
    }
    await delay(300);
    await appendFile(spec.logPath, `${name}: done with ${spec.taskId}\n`);
    return 0;
  });
  return { executor, timeoutMs: 30_000, ...(name === 'analyst' ? { kind: claudeCode } : {}) };
}
const AGENTS = Object.fromEntries(['analyst', 'developer', 'reviewer', 'tester', 'deployer'].map((name) => [name, agent(name)]));

const row = (taskId: string) => page.locator(`#tasks tr[data-task="${taskId}"]`);
const stateCell = (taskId: string) => row(taskId).locator('td').nth(3);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'conveyor-console-'));
  const launching = launchChromium();
  conveyor = new Conveyor({
    store: new EmbeddedStore({ dir }),
    workbench: new Workbench({ dataDir: dir, agents: AGENTS, limits: { globalJobs: 8, perRepoJobs: 8 }, apiBase: () => baseUrl }),
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
  await tracker?.stop();
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

    tracker = new SimTracker({ conveyor, baseUrl, secret: SECRETS.trackerSecret, repo: 'demo', log: () => {}, openEveryMs: 200, approveAfterMs: 1500, approveStaggerMs: 200 });
    tracker.start();
    handMade.approved = await createTask('Approved from the console');
    handMade.held = await createTask('Held from the console');
    // Rows appear as the tracker opens its issues, and change state as the tasks move: the first one's
    // row shows it in analysis, then, once the tracker has approved it, past it.
    await page.locator('#tasks tr[data-task]').nth(DEMO_ISSUES.length + 1).waitFor({ timeout: 15_000 });
    const first = conveyor.taskForIssue(DEMO_ISSUES[0]!.id)!;
    const seen = new Set<string>();
    await expect
      .poll(async () => {
        seen.add((await stateCell(first).textContent()) ?? '');
        return [...seen].some((state) => !state.startsWith('analysis'));
      }, { timeout: 15_000, interval: 50 })
      .toBe(true);
    expect([...seen].some((state) => state.startsWith('analysis'))).toBe(true);
    // The list was loaded once, at login; everything since came over the stream.
    expect(listRequests).toHaveLength(1);
    expect(notFound).toEqual([]);
    expect(await page.getAttribute('link[rel=icon]', 'href')).toBe('/console/assets/favicon.svg');
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
    await expect.poll(() => page.textContent('#log'), { timeout: 10_000 }).toContain(`analyst: done with ${handMade.held}`);
    expect(await page.textContent('#log')).toContain(`analyst: working on ${handMade.held} (attempt 1)`);
    expect(await page.textContent('#log-title')).toMatch(/^Log of job /);
  }, 20_000);

  it('redraws the chart at any step of the history with the slider, and follows live again at its end', async () => {
    // The task held and resumed above is still shown, resting at its gate.
    const taskId = handMade.held;
    const of = conveyor.history(taskId).length;
    const held = conveyor.history(taskId).findIndex((e) => e.event.type === 'task.hold') + 1;
    const slide = (n: number) => page.$eval('#step', (input, value) => {
      (input as unknown as { value: string }).value = value;
      input.dispatchEvent(new Event('input'));
    }, String(n));
    const active = (id: string) => page.getAttribute(`#chart [data-id="${id}"]`, 'data-active');
    await expect.poll(() => page.getAttribute('#step', 'max')).toBe(String(of));
    expect(await page.textContent('#step-label')).toBe(`step ${of} of ${of}: task.resume → analysis.gating (live)`);

    await slide(held);
    await expect.poll(() => page.textContent('#step-label')).toBe(`step ${held} of ${of}: task.hold → onHold`);
    await expect.poll(() => active('task.onHold')).toBe('true');
    expect(await active('task.active.analysis.gating')).toBe('false');
    await slide(1);
    await expect.poll(() => active('task.active.analysis.preparing')).toBe('true');
    expect(await active('task.onHold')).toBe('false');

    await slide(of);
    await expect.poll(() => page.textContent('#step-label')).toContain('(live)');
    await expect.poll(() => active('task.active.analysis.gating')).toBe('true');
  }, 20_000);

  it("shows a running job's activity as the agent works, then its result and spend", async () => {
    const taskId = await createTask(WATCHED);
    await row(taskId).click();
    await expect.poll(() => page.textContent('#detail-title')).toContain(taskId);
    // The first half of the transcript arrives while the job runs: tools with their targets, files, errors.
    await expect.poll(() => page.textContent('#activity'), { timeout: 15_000 }).toContain('tool  Edit src/parser.ts');
    const during = (await page.textContent('#activity')) ?? '';
    expect(during).toContain('tool  Read src/parser.ts');
    expect(during).toContain('file  Edit src/parser.ts');
    expect(during).not.toContain('result');
    const { jobs } = await api<{ jobs: JobRecord[] }>('GET', `/tasks/${taskId}`);
    expect(jobs[0]).toMatchObject({ status: 'running', kind: 'claude-code' });
    expect(await page.textContent('#activity-title')).toBe(`Activity of job ${jobs[0]!.id}`);

    releaseWatched();
    await expect.poll(() => page.textContent('#activity'), { timeout: 15_000 }).toContain('result  Fixed the off-by-one in parse() and pushed the branch.');
    expect(await page.textContent('#activity')).toContain('$0.1873');
    expect(await page.locator('#activity li.error').count()).toBe(1);
    // Shown once each, though the stream and the first load may both have carried a record.
    const seqs = await page.locator('#activity li').evaluateAll((lis) => lis.map((li) => li.getAttribute('data-seq')));
    expect(new Set(seqs).size).toBe(seqs.length);
  }, 40_000);
});
