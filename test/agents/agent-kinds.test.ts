import { readFile } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import type { Conveyor, JobRecord } from '../../actors/index.ts';
import { readActivity } from '../../actors/agents/index.ts';
import { nodeFileSystem } from '../../store/index.ts';
import { waitForState } from '../support/http-fixtures.ts';
import { agentConveyor, type AgentConveyor, type CliCall } from '../support/agent-conveyor.ts';
import { CLAUDE_SESSION, CLAUDE_TRANSCRIPT, CODEX_THREAD, CODEX_TRANSCRIPT, fakeCommand } from '../support/fake-agent.ts';

// Each CLI kind end to end: a configured agent of that kind runs the fake CLI as a real child process
// (through the relay), fails its first run, and the retry resumes the session the first one reported.

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

interface Run {
  conveyor: Conveyor;
  taskId: string;
  calls: CliCall[];
  jobs: JobRecord[];
  /** The fake CLI's record of its runs. */
  record: string;
  api: AgentConveyor['api'];
}

async function runTwice(kind: 'claude-code' | 'codex', transcript: string, limits: Record<string, number> = {}, until = 'analysis.gating'): Promise<Run> {
  const setup = await agentConveyor(kind, fakeCommand(transcript), { FAKE_CLI_FAIL_FRESH: '1' }, limits);
  cleanup.push(setup.stop);
  const { conveyor } = setup;
  const { taskId } = await conveyor.createTask({ repo: 'scratch', title: 'Parse the last character' }, { source: 'operator' });
  await waitForState(conveyor, taskId, until, 20_000);
  const jobs = conveyor.jobsOf(taskId).sort((a, b) => a.requestedAt - b.requestedAt);
  return { conveyor, taskId, calls: await setup.calls(), jobs, record: setup.record, api: setup.api };
}

describe.each([
  { kind: 'claude-code' as const, transcript: CLAUDE_TRANSCRIPT, session: CLAUDE_SESSION, usage: { inputTokens: 36, outputTokens: 412, cacheReadTokens: 96332, cacheWriteTokens: 6942, costUsd: 0.18734 } },
  { kind: 'codex' as const, transcript: CODEX_TRANSCRIPT, session: CODEX_THREAD, usage: { inputTokens: 24763, outputTokens: 1122, cacheReadTokens: 24448, cacheWriteTokens: 0, costUsd: null } },
])('an agent of kind $kind', ({ kind, transcript, session, usage }) => {
  it('is started with a prompt from the task, records its session, and a retry resumes it with the reason', async () => {
    const { calls, jobs } = await runTwice(kind, transcript);

    expect(calls).toHaveLength(2);
    expect(calls[0]!.resume).toBeNull();
    expect(calls[0]!.prompt).toContain('Task: Parse the last character');
    expect(calls[0]!.prompt).toContain('Stage: analysis (attempt 1)');
    expect(calls[1]!.resume).toBe(session);
    expect(calls[1]!.prompt).toContain('attempt 2');
    expect(calls[1]!.prompt).toContain('The previous attempt failed: agent exited with code 1');

    expect(jobs).toHaveLength(2);
    expect(jobs[0]).toMatchObject({ kind, session, status: 'exited', exitCode: 1, usage });
    expect(jobs[0]!.resumedSession).toBeUndefined();
    expect(jobs[1]).toMatchObject({ kind, session, resumedSession: session, status: 'exited', exitCode: 0 });
  }, 30_000);

  it('keeps what the agent did in the activity log beside the job log, counted on the job record', async () => {
    const { api, jobs } = await runTwice(kind, transcript);
    const first = jobs[0]!;
    const records = await readActivity(nodeFileSystem, `${first.logPath}.activity.jsonl`);
    expect(records.map((r) => r.seq)).toEqual(records.map((_, i) => i + 1));
    expect(first.activity?.count).toBe(records.length);
    // One session record, however often the stream names it; the stderr line and unknown events leave nothing.
    expect(records.filter((r) => r.kind === 'session')).toEqual([expect.objectContaining({ session })]);
    expect(records.filter((r) => r.kind === 'file').map((r) => r.path)).toEqual(['src/parser.ts', 'test/fixtures/last-char.txt']);
    expect(records.some((r) => r.kind === 'error')).toBe(true);
    expect(records.at(-1)).toMatchObject({ kind: 'usage', usage });
    // The last record names the log offset just past the line it came from: the run's final event.
    // The same records through the API, a page at a time.
    const page1 = (await (await api('GET', `/jobs/${first.id}/activity?limit=5`)).json()) as { activity: unknown[]; next: string };
    const page2 = (await (await api('GET', `/jobs/${first.id}/activity?limit=1000&cursor=${page1.next}`)).json()) as { activity: unknown[]; next: null };
    expect([...page1.activity, ...page2.activity]).toEqual(records);
    expect(page2.next).toBeNull();
    const log = await readFile(first.logPath);
    const final = log.indexOf(kind === 'claude-code' ? '{"type":"result"' : '{"type":"turn.completed"');
    expect(records.at(-1)!.offset).toBe(log.indexOf('\n', final) + 1);
  }, 30_000);
});

describe('what agents spend', () => {
  it('is summed per task and per stage in the task answer, and counted by repository and stage in /metrics', async () => {
    const { conveyor, taskId, api } = await runTwice('claude-code', CLAUDE_TRANSCRIPT);
    const answer = (await (await api('GET', `/tasks/${taskId}`)).json()) as { spend: { total: { costUsd: number; outputTokens: number }; byStage: Record<string, { costUsd: number }> } };
    // Two runs of the transcript, each reporting $0.18734 and 412 output tokens.
    expect(answer.spend.total.costUsd).toBeCloseTo(0.37468, 6);
    expect(answer.spend.total.outputTokens).toBe(824);
    expect(Object.keys(answer.spend.byStage)).toEqual(['analysis']);
    const metrics = await conveyor.metrics.exposition();
    expect(metrics.text).toMatch(/conveyor_agent_cost_usd_total\{repo="scratch",stage="analysis"\} 0\.37468/);
    expect(metrics.text).toContain('conveyor_agent_tokens_total{repo="scratch",stage="analysis",type="output"} 824');
  }, 30_000);

  it('escalates the task with the spend and the budget as its reason, raises an alert naming both, and starts no further agent', async () => {
    const { conveyor, taskId, calls, record } = await runTwice('claude-code', CLAUDE_TRANSCRIPT, { taskBudgetUsd: 0.1 }, 'escalated');
    const view = conveyor.task(taskId)!;
    const reason = /^budget exceeded: the task's agents spent \$0\.1873 of its \$0\.10 budget \(limits\.taskBudgetUsd\)/;
    expect(view.context.escalation).toEqual({ stage: 'analysis', reason: expect.stringMatching(reason) });
    expect(view.context.hold).toBeNull();
    const alert = conveyor.alertBoard.list().find((a) => a.kind === 'budget_exceeded' && a.taskId === taskId);
    expect(alert?.message).toMatch(/\$0\.1873 of its \$0\.10 budget/);
    expect(calls).toHaveLength(1);
    // A retry with the budget still spent starts no agent: the task is escalated again at once.
    await conveyor.send(taskId, { type: 'task.retry' }, { source: 'operator' });
    const escalations = () => conveyor.history(taskId).filter((h) => h.event.type === 'budget.exceeded' && h.accepted).length;
    await waitForState(conveyor, taskId, (v) => v.state === 'escalated' && escalations() === 2, 10_000);
    expect((await readFile(record, 'utf8')).trim().split('\n')).toHaveLength(1);
  }, 30_000);
});
