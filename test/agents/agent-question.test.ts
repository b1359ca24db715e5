import { afterEach, describe, expect, it } from 'vitest';
import type { DecisionRecord, JobRecord } from '../../actors/index.ts';
import { waitForState } from '../support/http-fixtures.ts';
import { agentConveyor, type AgentConveyor } from '../support/agent-conveyor.ts';
import { CLAUDE_QUESTION_TRANSCRIPT, CLAUDE_SESSION, CLAUDE_TRANSCRIPT, CODEX_QUESTION_TRANSCRIPT, CODEX_THREAD, CODEX_TRANSCRIPT, fakeCommand } from '../support/fake-agent.ts';

// An agent that cannot go on without a person's answer asks (Claude Code's AskUserQuestion, which its
// print mode denies): the task waits on a decision with the question, and the answer goes to the next
// run, which resumes the session.

const QUESTION = 'Does a trailing newline count as the last character?';
let setup: AgentConveyor | null = null;
afterEach(async () => {
  await setup?.stop();
  setup = null;
});

async function askingTask(kind: 'claude-code' | 'codex' = 'claude-code'): Promise<{ s: AgentConveyor; taskId: string; decision: DecisionRecord }> {
  const [asking, resumed] = kind === 'claude-code' ? [CLAUDE_QUESTION_TRANSCRIPT, CLAUDE_TRANSCRIPT] : [CODEX_QUESTION_TRANSCRIPT, CODEX_TRANSCRIPT];
  const s = await agentConveyor(kind, fakeCommand(asking), { FAKE_CLI_RESUME_TRANSCRIPT: resumed });
  setup = s;
  const { taskId } = await s.conveyor.createTask({ repo: 'scratch', title: 'Parse the last character' }, { source: 'operator' });
  await waitForState(s.conveyor, taskId, 'analysis.asking', 20_000);
  const { decisions } = (await (await s.api('GET', `/decisions?status=pending&task=${taskId}`)).json()) as { decisions: DecisionRecord[] };
  expect(decisions).toHaveLength(1);
  return { s, taskId, decision: decisions[0]! };
}

describe("an agent's question", () => {
  it('becomes a pending decision with the question as its text and its options, beside a free reply', async () => {
    const { s, taskId, decision } = await askingTask();
    expect(decision).toMatchObject({ question: QUESTION, options: ['Count it', 'Skip it', 'Reply'], contextKey: 'agent_question' });
    const [job] = s.conveyor.jobsOf(taskId) as JobRecord[];
    expect(job).toMatchObject({ status: 'exited', exitCode: 0, question: { text: QUESTION, options: ['Count it', 'Skip it'] } });
    expect(s.conveyor.task(taskId)!.tags).toContain('awaiting-decision');
  }, 30_000);

  it("hands the human's answer to the next run, which resumes the agent's session", async () => {
    const { s, taskId, decision } = await askingTask();
    // A reply needs its words.
    const missing = await s.api('POST', `/decisions/${decision.id}/resolve`, { option: 'Reply', by: 'pat' });
    expect(missing.status).toBe(422);
    expect(((await missing.json()) as { error: { field: string } }).error.field).toBe('answer');
    expect(s.conveyor.decisions.get(decision.id)!.status).toBe('pending');

    const answered = await s.api('POST', `/decisions/${decision.id}/resolve`, { option: 'Reply', answer: 'Skip it, unless the file is empty', by: 'pat' });
    expect(answered.status).toBe(200);
    expect(s.conveyor.decisions.get(decision.id)).toMatchObject({ status: 'resolved', resolution: 'Reply', answer: 'Skip it, unless the file is empty', by: 'pat' });
    await waitForState(s.conveyor, taskId, 'analysis.gating', 20_000);
    const calls = await s.calls();
    expect(calls).toHaveLength(2);
    expect(calls[1]!.resume).toBe(CLAUDE_SESSION);
    expect(calls[1]!.prompt).toContain(`pat answers your question ("${QUESTION}"): Skip it, unless the file is empty`);
    // Handed over once: the run that had it ended cleanly.
    expect(s.conveyor.task(taskId)!.context.steering).toEqual([]);
  }, 30_000);

  it("hands over a chosen option as the answer", async () => {
    const { s, taskId, decision } = await askingTask();
    expect((await s.api('POST', `/decisions/${decision.id}/resolve`, { option: 'Skip it' })).status).toBe(200);
    await waitForState(s.conveyor, taskId, 'analysis.gating', 20_000);
    expect((await s.calls())[1]!.prompt).toContain(`Someone answers your question ("${QUESTION}"): Skip it`);
  }, 30_000);

  it('of Codex, a QUESTION: line in its last message, is answered by a reply that reaches the resumed thread', async () => {
    const { s, taskId, decision } = await askingTask('codex');
    expect(decision).toMatchObject({ question: 'Which one should I change, src/parser.ts or lib/parse.ts?', options: ['Reply'] });
    expect((await s.api('POST', `/decisions/${decision.id}/resolve`, { option: 'Reply', answer: 'src/parser.ts', by: 'pat' })).status).toBe(200);
    await waitForState(s.conveyor, taskId, 'analysis.gating', 20_000);
    const calls = await s.calls();
    expect(calls[1]!.resume).toBe(CODEX_THREAD);
    expect(calls[1]!.prompt).toContain('pat answers your question ("Which one should I change, src/parser.ts or lib/parse.ts?"): src/parser.ts');
  }, 30_000);
});
