import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { JobRecord, TaskView } from '../../actors/index.ts';
import type { ActivityRecord } from '../../actors/agents/index.ts';
import { CLAUDE_SESSION, CLAUDE_TRANSCRIPT, fakeCommand } from '../support/fake-agent.ts';
import { deliverTo, killAllConveyors, killConveyor, processApi, startConveyor, until, type ConveyorProcess } from '../support/conveyor-process.ts';
import { planeDelivery } from '../support/http-fixtures.ts';

// A real conveyor process runs a Claude Code agent (the fake CLI, a real child process) and is killed
// with SIGKILL while the agent works: what its activity log recorded survives, and the restarted conveyor
// re-attaches the same agent process, goes on appending to the same log, and steers it through the same inbox.

const API_TOKEN = 'kill9-activity-token';
const TRACKER_SECRET = 'kill9-tracker';
const ENV = { CONVEYOR_API_TOKEN: API_TOKEN, CONVEYOR_TRACKER_SECRET: TRACKER_SECRET, CONVEYOR_FORGE_SECRET: 'kill9-forge' };
const LATER_STAGES = ['development', 'review', 'testing', 'deploy-staging', 'deploy'];

const dirs: string[] = [];
const releases: string[] = [];
afterEach(async () => {
  await killAllConveyors();
  // An agent left waiting by a failed test goes on, and ends.
  for (const file of releases.splice(0)) await writeFile(file, '');
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true, maxRetries: 3 })));
});

const api = <T>(server: ConveyorProcess, path: string, body?: unknown) => processApi<T>(server, API_TOKEN, path, body);

const activityOf = async (server: ConveyorProcess, jobId: string) => (await api<{ activity: ActivityRecord[] }>(server, `/jobs/${jobId}/activity?limit=1000`)).activity;

describe('kill -9 while a Claude Code agent works', () => {
  it('loses none of the activity recorded before the kill, and the re-attached job keeps appending and takes a comment into its session', async () => {
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
    const { task } = await api<{ task: TaskView }>(first, '/tasks', { repo: 'scratch', title: 'Parse the last character', trackerIssueId: 'ISS-9' });

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
    // A comment on the issue now reaches the session the first process started, through its inbox on disk.
    const comment = planeDelivery({
      event: 'issue_comment', action: 'created', webhook_id: 'wh-1', workspace_id: 'ws-1',
      data: { id: 'c-1', issue: 'ISS-9', project: 'proj-1', comment_html: '<p>@conveyor also handle an empty input</p>', actor_detail: { display_name: 'Pat' } },
    }, { event: 'issue_comment', secret: TRACKER_SECRET });
    expect((await deliverTo(second, comment)).status).toBe(200);
    await until('the session took the comment', async () => {
      const { history } = await api<{ history: { event: { type: string }; accepted: boolean }[] }>(second, `/tasks/${task.id}/history`);
      return history.some((h) => h.event.type === 'job.steered' && h.accepted) ? true : undefined;
    });
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
    expect(after.filter((r) => r.kind === 'input').map((r) => r.text).at(-1)).toBe('Pat asks (on the tracker issue): also handle an empty input');
    // Its own turn, and one for the comment, whose result reports the session's spend so far.
    expect(after.filter((r) => r.kind === 'result')).toHaveLength(2);
    expect(after.at(-1)).toMatchObject({ kind: 'usage', usage: { costUsd: expect.closeTo(0.19734, 6) } });
    const { job: finished } = await api<{ job: JobRecord }>(second, `/jobs/${job.id}`);
    expect(finished).toMatchObject({ status: 'exited', exitCode: 0, pid: job.pid, session: CLAUDE_SESSION, activity: { count: after.length } });
    // The same agent process was followed across the kill: the CLI ran once, and the comment waits for no later run.
    expect((await readFile(runs, 'utf8')).trim().split('\n')).toHaveLength(1);
    expect((await api<{ task: TaskView }>(second, `/tasks/${task.id}`)).task.context.steering).toEqual([]);
    await killConveyor(second);
  }, 60_000);
});
