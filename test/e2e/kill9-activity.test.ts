import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import type { JobRecord, TaskView } from '../../actors/index.ts';
import type { ActivityRecord } from '../../actors/agents/index.ts';
import { CLAUDE_SESSION, CLAUDE_TRANSCRIPT, fakeCommand } from '../support/fake-agent.ts';
import { killAllConveyors, killConveyor, startConveyor, type ConveyorProcess } from '../support/conveyor-process.ts';

// A real conveyor process runs a Claude Code agent (the fake CLI, a real child process) and is killed
// with SIGKILL while the agent works: what its activity log recorded survives, and the restarted conveyor
// re-attaches the same agent process and goes on appending to the same log.

const API_TOKEN = 'kill9-activity-token';
const ENV = { CONVEYOR_API_TOKEN: API_TOKEN, CONVEYOR_TRACKER_SECRET: 'kill9-tracker', CONVEYOR_FORGE_SECRET: 'kill9-forge' };
const LATER_STAGES = ['development', 'review', 'testing', 'deploy-staging', 'deploy'];

const dirs: string[] = [];
const releases: string[] = [];
afterEach(async () => {
  await killAllConveyors();
  // An agent left waiting by a failed test goes on, and ends.
  for (const file of releases.splice(0)) await writeFile(file, '');
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true, maxRetries: 3 })));
});

async function api<T>(server: ConveyorProcess, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${server.base}/api${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { authorization: `Bearer ${API_TOKEN}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  expect(res.status, `${path} answered ${res.status}`).toBeLessThan(300);
  return (await res.json()) as T;
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`kill9-activity: ${what} did not happen in ${timeoutMs} ms`);
    await delay(50);
  }
}

const activityOf = async (server: ConveyorProcess, jobId: string) => (await api<{ activity: ActivityRecord[] }>(server, `/jobs/${jobId}/activity?limit=1000`)).activity;

describe('kill -9 while a Claude Code agent works', () => {
  it('loses none of the activity recorded before the kill, and the re-attached job keeps appending', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'conveyor-kill9-activity-'));
    dirs.push(dir);
    const hold = join(dir, 'go-on');
    releases.push(hold);
    const runs = join(dir, 'runs.jsonl');
    const config = {
      repositories: [{ name: 'unused', remote: '/nonexistent/unused.git' }],
      // The agent stops halfway through its transcript until the test lets it go on.
      agents: { analyst: { kind: 'claude-code', command: fakeCommand(CLAUDE_TRANSCRIPT), env: { FAKE_CLI_HOLD_FILE: hold, FAKE_CLI_RECORD: runs } } },
      pipeline: { stages: Object.fromEntries(LATER_STAGES.map((s) => [s, { agent: null }])) },
    };
    const first = await startConveyor(dir, config, ENV);
    const { task } = await api<{ task: TaskView }>(first, '/tasks', { repo: 'scratch', title: 'Parse the last character' });

    // Halfway: the session, the first text, tools and an edited file are on record.
    const job = await until('the first half of the activity', async () => {
      const { jobs } = await api<{ jobs: JobRecord[] }>(first, `/jobs?task=${task.id}`);
      const running = jobs.find((j) => j.status === 'running' && (j.activity?.count ?? 0) >= 5);
      return running && (await activityOf(first, running.id)).some((r) => r.kind === 'file') ? running : undefined;
    });
    const before = await activityOf(first, job.id);
    await killConveyor(first);

    const second = await startConveyor(dir, config, ENV);
    expect(await activityOf(second, job.id)).toEqual(before);
    await writeFile(hold, '');
    await until('the task at the analysis gate', async () => {
      const { task: view } = await api<{ task: TaskView }>(second, `/tasks/${task.id}`);
      return view.state === 'analysis.gating' ? view : undefined;
    });

    const after = await activityOf(second, job.id);
    expect(after.slice(0, before.length)).toEqual(before);
    expect(after.length).toBeGreaterThan(before.length);
    expect(after.map((r) => r.seq)).toEqual(after.map((_, i) => i + 1));
    // What the agent did after the restart is there once: its later files and its result with its spend.
    expect(after.filter((r) => r.kind === 'file').map((r) => r.path)).toEqual(['src/parser.ts', 'test/fixtures/last-char.txt']);
    expect(after.filter((r) => r.kind === 'result')).toHaveLength(1);
    expect(after.at(-1)).toMatchObject({ kind: 'usage', usage: { costUsd: 0.18734 } });
    const { job: finished } = await api<{ job: JobRecord }>(second, `/jobs/${job.id}`);
    expect(finished).toMatchObject({ status: 'exited', exitCode: 0, pid: job.pid, session: CLAUDE_SESSION, activity: { count: after.length } });
    // The same agent process was followed across the kill: the CLI ran once.
    expect((await readFile(runs, 'utf8')).trim().split('\n')).toHaveLength(1);
    await killConveyor(second);
  }, 60_000);
});
