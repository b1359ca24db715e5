import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { JobRecord, TaskView } from '../../actors/index.ts';
import { PROGRESS_MARKER } from '../../actors/index.ts';
import { createRemote, makeTempDir } from '../git/fixtures.ts';
import { deliverTo, killAllConveyors, killConveyor, processApi, startConveyor, until, type ConveyorProcess } from '../support/conveyor-process.ts';
import { CLAUDE_SESSION, CLAUDE_TRANSCRIPT, fakeCommand } from '../support/fake-agent.ts';
import { ForgeDouble } from '../support/forge-double.ts';
import { giteaPullRequest } from '../support/gitea-payloads.ts';
import { API_TOKEN, FORGE_SECRET, giteaDelivery, planeDelivery, TRACKER_SECRET } from '../support/http-fixtures.ts';
import { SseReader } from '../support/sse-reader.ts';
import { TrackerDouble } from '../support/tracker-double.ts';
import type { CliCall } from '../support/agent-conveyor.ts';

// What a user of a Claude Code agent sees, end to end: a real conveyor process with a configuration whose
// developer is the fake `claude-code` CLI (a real child process), a Plane-like tracker and a Gitea-like
// forge on loopback. The task goes through development: its activity streams live to the console's event
// stream and into one progress comment on the issue; the first run fails, the retry resumes its session
// and carries a comment made on the pull request meanwhile; tokens and cost show per task.

const PROJECT = 'proj-1';
const ISSUE = 'ISS-1';
const PR = 7;
const SHA = 'c'.repeat(40);
const place = { owner: 'acme', repo: 'shop' };
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  await killAllConveyors();
  // Every step runs, whatever an earlier one threw: a held agent is let go and the directory removed.
  for (const step of cleanups.splice(0).reverse()) await step().catch(() => undefined);
});

const deliver = deliverTo;

async function api<T>(server: ConveyorProcess, path: string): Promise<T> {
  return processApi<T>(server, API_TOKEN, path);
}

const issueEvent = (state: string, n: number) => planeDelivery({
  event: 'issue', action: 'updated', webhook_id: 'wh-1', workspace_id: 'ws-1',
  data: { id: ISSUE, name: 'Parse the last character', project: PROJECT, state: { id: state, group: 'started' }, updated_at: new Date(Date.UTC(2026, 0, 1, 0, 0, n)).toISOString() },
  activity: { field: 'state' },
});

describe('a task whose developer is Claude Code', () => {
  it('shows its activity live and on the issue, resumes its session on a retry with a pull-request comment, and counts its cost', async () => {
    const root = await makeTempDir('conveyor-claude-e2e-');
    cleanups.push(root.cleanup);
    const remote = await createRemote(root.path);
    const tracker = await TrackerDouble.start();
    cleanups.push(() => tracker.close());
    const forge = await ForgeDouble.start();
    cleanups.push(() => forge.close());
    tracker.setIssue({ id: ISSUE, name: 'Parse the last character', project: PROJECT, state: 'state-in-progress' });
    forge.addPullRequest({ head: 'unknown-yet', headSha: SHA, number: PR });
    const hold = join(root.path, 'go-on');
    cleanups.push(() => writeFile(hold, ''));
    const runs = join(root.path, 'runs.jsonl');
    const config = {
      repositories: [{ name: 'web', remote: remote.path, forge: { kind: 'gitea', apiBase: forge.apiBase, owner: place.owner, repo: place.repo, tokenEnv: 'GITEA_TOKEN' } }],
      agents: {
        // Fails its first run (the retry resumes it) and waits halfway through each run until let go.
        developer: { kind: 'claude-code', command: fakeCommand(CLAUDE_TRANSCRIPT), env: { FAKE_CLI_RECORD: runs, FAKE_CLI_FAIL_FRESH: '1', FAKE_CLI_HOLD_FILE: hold } },
      },
      // The backoff before the retry is the window in which the pull-request comment is made.
      limits: { maxJobAttempts: 2, baseBackoffMs: 4000 },
      pipeline: { stages: Object.fromEntries(['analysis', 'review', 'testing', 'deploy-staging', 'deploy'].map((s) => [s, { agent: null }])) },
      tracker: { apiBase: tracker.apiBase, workspace: tracker.workspace, tokenEnv: 'PLANE_TOKEN', projectRepos: { [PROJECT]: 'web' } },
      notifications: { progressIntervalMs: 100 },
    };
    const server = await startConveyor(root.path, config, {
      CONVEYOR_API_TOKEN: API_TOKEN, CONVEYOR_TRACKER_SECRET: TRACKER_SECRET, CONVEYOR_FORGE_SECRET: FORGE_SECRET, GITEA_TOKEN: 'forge-token', PLANE_TOKEN: tracker.token,
    });
    const stream = await fetch(`${server.base}/api/events/stream`, { headers: { authorization: `Bearer ${API_TOKEN}` } });
    const sse = new SseReader(stream.body);
    cleanups.push(() => sse.cancel().catch(() => undefined));

    const created = await deliver(server, issueEvent('state-in-progress', 1));
    expect(created.status).toBeLessThan(300);
    const taskId = (created.body.outcome as { taskId: string }).taskId;
    expect((await deliver(server, issueEvent('state-approved', 2))).status).toBeLessThan(300);

    // Live: the console's stream tells what the agent does while its job still runs (it waits halfway).
    type Batch = { jobId: string; taskId: string; stage: string; records: { kind: string; path?: string }[] };
    const streamed: Batch['records'] = [];
    const live = await sse.until('the edit of src/parser.ts', (m) => {
      const batch = m.data as Batch;
      if (m.event !== 'activity' || batch.taskId !== taskId || batch.stage !== 'development') return false;
      streamed.push(...batch.records);
      return streamed.some((r) => r.kind === 'file' && r.path === 'src/parser.ts');
    }, 30_000);
    const { jobId } = live.data as Batch;
    expect((await api<{ job: JobRecord }>(server, `/jobs/${jobId}`)).job.status).toBe('running');
    // On the issue: the development comment shows the running job's latest activity.
    const html = () => tracker.comments.get(ISSUE)?.find((c) => c.comment_html.includes('stage development'))?.comment_html ?? '';
    await until('the development comment shows the activity', () => (/latest: (said|used|changed|error)/.test(html()) ? true : undefined));

    // The pull request is opened; the first run is let go, and fails.
    const { task } = await api<{ task: TaskView }>(server, `/tasks/${taskId}`);
    forge.prs.get(PR)!.head = task.branch;
    expect((await deliver(server, giteaDelivery('pull_request', giteaPullRequest(place, 'opened', { number: PR, branch: task.branch, sha: SHA })))).status).toBeLessThan(300);
    await writeFile(hold, '');
    await until('the first run failed', async () => ((await api<{ task: TaskView }>(server, `/tasks/${taskId}`)).task.state === 'development.retrying' ? true : undefined));
    // Meanwhile someone asks something of the agent on the pull request.
    const comment = { action: 'created', is_pull: true, repository: { id: 42, full_name: `${place.owner}/${place.repo}` }, issue: { number: PR, pull_request: { merged: false } }, comment: { id: 501, body: '@conveyor also handle an empty input', user: { login: 'sam' } } };
    expect((await deliver(server, giteaDelivery('issue_comment', comment))).status).toBe(200);
    await until('the retry ended', async () => ((await api<{ task: TaskView }>(server, `/tasks/${taskId}`)).task.state === 'development.gating' ? true : undefined));

    // The retry resumed the session the first run reported, and was told what was asked on the pull request.
    const calls = (await readFile(runs, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as CliCall);
    expect(calls).toHaveLength(2);
    expect(calls[0]!.resume).toBeNull();
    expect(calls[1]!.resume).toBe(CLAUDE_SESSION);
    expect(calls[1]!.prompt).toContain('sam asks (on the pull request): also handle an empty input');
    const { jobs } = await api<{ jobs: JobRecord[] }>(server, `/jobs?task=${taskId}&stage=development`);
    expect(jobs.map((j) => [j.status, j.exitCode, j.session, j.resumedSession ?? null])).toEqual([
      ['exited', 0, CLAUDE_SESSION, CLAUDE_SESSION],
      ['exited', 1, CLAUDE_SESSION, null],
    ]);

    // Tokens and cost per task: two runs of $0.18734 and 412 output tokens each.
    const { spend } = await api<{ spend: { total: { costUsd: number; outputTokens: number }; byStage: Record<string, { costUsd: number }> } }>(server, `/tasks/${taskId}`);
    expect(spend.total.costUsd).toBeCloseTo(0.37468, 6);
    expect(spend.total.outputTokens).toBe(824);
    expect(spend.byStage.development?.costUsd).toBeCloseTo(0.37468, 6);

    // One progress comment per stage on the issue, edited in place, and one on the pull request.
    const comments = tracker.comments.get(ISSUE) ?? [];
    expect(comments.map((c) => c.comment_html.match(/stage (\w+)/)?.[1])).toEqual(['analysis', 'development']);
    expect(comments.every((c) => c.comment_html.startsWith(PROGRESS_MARKER))).toBe(true);
    expect(comments[1]!.edits).toBeGreaterThan(0);
    await until('the pull request comment', () => (forge.comments.get(PR)?.length ? true : undefined));
    expect(forge.comments.get(PR)).toHaveLength(1);
    await sse.cancel();
    await killConveyor(server);
  }, 90_000);
});
