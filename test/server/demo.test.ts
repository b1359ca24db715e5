import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { serve, type ServerType } from '@hono/node-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Conveyor, runGit, Workbench } from '../../actors/index.ts';
import { createApp } from '../../server/app.ts';
import { defaultTrackerRouting } from '../../server/default-tracker.ts';
import { DEMO_ISSUES, demoRemotePath, demoWorkbenchOptions, ensureDemoRepo, startDemo, type Demo } from '../../server/demo/index.ts';
import { EmbeddedStore } from '../../store/index.ts';

const API_TOKEN = 'demo-api-token';
const TRACKER_SECRET = 'demo-tracker-secret';
const FORGE_SECRET = 'demo-forge-secret';

/** Polls until `check` holds, failing with `what` after `ms`. */
async function until(what: string, ms: number, check: () => boolean): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await delay(200);
  }
}

describe('demo', () => {
  let dir: string;
  let conveyor: Conveyor;
  let server: ServerType;
  let baseUrl: string;
  let demo: Demo | null = null;
  const lines: string[] = [];
  let handTaskId = '';

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'conveyor-demo-'));
    conveyor = new Conveyor({
      store: new EmbeddedStore({ dir }),
      workbench: new Workbench({ ...(await demoWorkbenchOptions(dir)), apiBase: () => baseUrl }),
    });
    await conveyor.start();
    const app = createApp({ conveyor, apiToken: API_TOKEN, trackerSecret: TRACKER_SECRET, forgeSecret: FORGE_SECRET, tracker: defaultTrackerRouting });
    const listening = new Promise<AddressInfo>((resolve) => {
      server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info) => resolve(info));
    });
    baseUrl = `http://127.0.0.1:${(await listening).port}`;
    demo = await startDemo({
      conveyor, baseUrl, dataDir: dir, apiToken: API_TOKEN, trackerSecret: TRACKER_SECRET, forgeSecret: FORGE_SECRET,
      log: (line) => lines.push(line),
    });
    const res = await fetch(`${baseUrl}/api/tasks`, {
      method: 'POST',
      headers: { authorization: `Bearer ${API_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ repo: 'demo', title: 'Tried by hand' }),
    });
    handTaskId = ((await res.json()) as { task: { id: string } }).task.id;
    await until('all five demo tasks are done', 120_000, () => {
      const ids = demo?.taskIds() ?? [];
      return ids.length === DEMO_ISSUES.length && ids.every((id) => conveyor.task(id)?.state === 'done');
    });
  }, 150_000);

  afterAll(async () => {
    await demo?.stop();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    await conveyor?.stop();
    // Agents of the hand-made task may still be exiting; their process groups are killed on exit.
    await delay(300);
    await rm(dir, { recursive: true, force: true });
  }, 30_000);

  it('brings every demo issue to done, each task on its own tracker issue', () => {
    const tasks = demo!.taskIds().map((id) => conveyor.task(id)!);
    expect(tasks.map((t) => t.trackerIssueId)).toEqual(DEMO_ISSUES.map((i) => i.id));
    expect(tasks.map((t) => t.state)).toEqual(DEMO_ISSUES.map(() => 'done'));
    expect(lines.filter((l) => /^demo: all five demo tasks reached done in \d+ s$/.test(l))).toHaveLength(1);
  });

  it('sends the task that needs changes back from review to development once, and it still finishes', () => {
    const [issue] = DEMO_ISSUES.filter((i) => i.title.includes('needs changes'));
    const taskId = conveyor.taskForIssue(issue!.id)!;
    const rollbacks = conveyor.history(taskId).filter((h) => h.accepted && h.from.startsWith('review') && h.to.startsWith('development'));
    expect(rollbacks).toHaveLength(1);
    expect(conveyor.task(taskId)?.context.retries).toBe(1);
    expect(conveyor.task(taskId)?.state).toBe('done');
    expect(lines.some((l) => l.startsWith(issue!.id) && l.includes('review requested changes') && l.includes('back to development (retry 1/3)'))).toBe(true);
  });

  it('moves the other demo tasks forward without any rollback', () => {
    for (const issue of DEMO_ISSUES.filter((i) => !i.title.includes('needs changes'))) {
      const taskId = conveyor.taskForIssue(issue.id)!;
      expect(conveyor.task(taskId)?.context.retries).toBe(0);
    }
  });

  it('leaves every task branch, with the developer commits, in the bare repository', async () => {
    const remote = demoRemotePath(dir);
    for (const taskId of demo!.taskIds()) {
      const log = await runGit(['log', '--format=%s', `conveyor/${taskId}`], { cwd: remote });
      expect(log.ok).toBe(true);
      expect(log.stdout).toContain(`${taskId}: `);
      const note = await runGit(['show', `conveyor/${taskId}:work/${taskId}.md`], { cwd: remote });
      expect(note.ok).toBe(true);
    }
    const fixed = conveyor.taskForIssue(DEMO_ISSUES.find((i) => i.title.includes('needs changes'))!.id)!;
    const fixes = await runGit(['show', `conveyor/${fixed}:FIXES.md`], { cwd: remote });
    expect(fixes.stdout).toContain('review requested changes');
  });

  it('never approves a task created by hand: it waits in analysis for a human', async () => {
    await until('the hand-made task has finished its analysis', 30_000, () => conveyor.task(handTaskId)?.state === 'analysis.gating');
    expect(conveyor.task(handTaskId)?.context.approval).toBeNull();
    expect(conveyor.history(handTaskId).some((h) => h.event.type === 'analysis.approved')).toBe(false);
    expect(lines.some((l) => l.includes(`/api/tasks/<id>/events`) && l.includes('"type":"approve"'))).toBe(true);
  });

  it('finds the demo repository again on a second start instead of making a new one', async () => {
    const before = await runGit(['rev-parse', 'main'], { cwd: demoRemotePath(dir) });
    const again = await ensureDemoRepo(dir);
    const after = await runGit(['rev-parse', 'main'], { cwd: demoRemotePath(dir) });
    expect(again).toMatchObject({ ok: true, created: false });
    expect(after.stdout).toBe(before.stdout);
  });
});
