import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readActivity } from '../../actors/agents/index.ts';
import { nodeFileSystem } from '../../store/index.ts';
import { waitForState } from '../support/http-fixtures.ts';
import { agentConveyor, type AgentConveyor } from '../support/agent-conveyor.ts';
import { CLAUDE_TRANSCRIPT, CODEX_TRANSCRIPT, fakeCommand } from '../support/fake-agent.ts';

// Steering a running agent: a comment addressed to conveyor while the agent works goes into its running
// session when its kind reads input (Claude Code's stream-json on stdin); otherwise it waits for the next run.

let setup: AgentConveyor | null = null;
let release: string | null = null;
afterEach(async () => {
  if (release) await writeFile(release, '');
  await setup?.stop();
  if (release) await rm(dirname(release), { recursive: true, force: true });
  setup = null;
  release = null;
});

/** A task whose analyst is halfway through its run, waiting until `hold` exists; `steer` comments meanwhile. */
async function start(kind: 'claude-code' | 'codex', transcript: string) {
  const hold = join(await mkdtemp(join(tmpdir(), 'conveyor-steer-')), 'go-on');
  release = hold;
  const s = await agentConveyor(kind, fakeCommand(transcript), { FAKE_CLI_HOLD_FILE: hold });
  setup = s;
  const { taskId } = await s.conveyor.createTask({ repo: 'scratch', title: 'Parse the last character' }, { source: 'operator' });
  // Halfway: the agent has said and done things, and waits.
  await waitForState(s.conveyor, taskId, (v) => v.state === 'analysis.working.running' && (s.conveyor.jobsOf(taskId)[0]?.activity?.count ?? 0) >= 3, 20_000);
  const steer = () => s.conveyor.send(taskId, { type: 'task.steer', text: 'also handle an empty input', by: 'sam', via: 'pull request' }, { source: 'webhook' });
  return { s, taskId, hold, steer };
}

describe('a comment while the agent runs', () => {
  it('goes into a running Claude Code session, which answers it before it ends, and is not handed to a later run', async () => {
    const { s, taskId, hold, steer } = await start('claude-code', CLAUDE_TRANSCRIPT);
    expect((await steer()).status).toBe('accepted');
    // The session says it took the words (Claude Code replays user messages) while its first turn still runs.
    const delivered = () => s.conveyor.history(taskId).some((h) => h.event.type === 'job.steered' && h.accepted);
    await waitForState(s.conveyor, taskId, (v) => v.state === 'analysis.working.running' && delivered(), 20_000);
    await writeFile(hold, '');
    await waitForState(s.conveyor, taskId, 'analysis.gating', 20_000);

    const calls = await s.calls();
    expect(calls).toHaveLength(1);
    expect(calls[0]!.args).toEqual(expect.arrayContaining(['--input-format', 'stream-json']));
    const [job] = s.conveyor.jobsOf(taskId);
    expect(job).toMatchObject({ status: 'exited', exitCode: 0 });
    const records = await readActivity(nodeFileSystem, `${job!.logPath}.activity.jsonl`);
    const told = records.findIndex((r) => r.kind === 'input' && r.text === 'sam asks (on the pull request): also handle an empty input');
    expect(told).toBeGreaterThan(0);
    // The session answered it with a turn of its own, after the one it was started for.
    expect(records.filter((r) => r.kind === 'result')).toHaveLength(2);
    expect(records.slice(told).some((r) => r.kind === 'result')).toBe(true);
    // Delivered: nothing waits for the next run.
    expect(s.conveyor.task(taskId)!.context.steering).toEqual([]);
  }, 30_000);

  it("waits for the next run when the agent's kind takes no input (Codex)", async () => {
    const { s, taskId, hold, steer } = await start('codex', CODEX_TRANSCRIPT);
    expect((await steer()).status).toBe('accepted');
    await writeFile(hold, '');
    await waitForState(s.conveyor, taskId, 'analysis.gating', 20_000);
    expect(s.conveyor.task(taskId)!.context.steering).toEqual([expect.objectContaining({ text: 'also handle an empty input', by: 'sam' })]);
  }, 30_000);

  it('made while the job waits for a slot goes into the Claude Code session once it starts', async () => {
    const hold = join(await mkdtemp(join(tmpdir(), 'conveyor-steer-')), 'go-on');
    release = hold;
    const s = await agentConveyor('claude-code', fakeCommand(CLAUDE_TRANSCRIPT), { FAKE_CLI_HOLD_FILE: hold }, { globalJobs: 1 });
    setup = s;
    const first = await s.conveyor.createTask({ repo: 'scratch', title: 'Takes the only slot' }, { source: 'operator' });
    await waitForState(s.conveyor, first.taskId, 'analysis.working.running', 20_000);
    const { taskId } = await s.conveyor.createTask({ repo: 'scratch', title: 'Parse the last character' }, { source: 'operator' });
    await waitForState(s.conveyor, taskId, 'analysis.working.queued', 20_000);
    await s.conveyor.send(taskId, { type: 'task.steer', text: 'also handle an empty input', by: 'sam', via: 'pull request' }, { source: 'webhook' });
    await writeFile(hold, '');
    await waitForState(s.conveyor, taskId, 'analysis.gating', 20_000);
    const [job] = s.conveyor.jobsOf(taskId);
    const records = await readActivity(nodeFileSystem, `${job!.logPath}.activity.jsonl`);
    expect(records.filter((r) => r.kind === 'input').map((r) => r.text)).toContain('sam asks (on the pull request): also handle an empty input');
    expect(s.conveyor.task(taskId)!.context.steering).toEqual([]);
  }, 30_000);
});
