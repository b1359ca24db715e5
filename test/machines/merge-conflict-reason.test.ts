import { describe, expect, it } from 'vitest';
import { createActor, fromCallback } from 'xstate';
import { compileTaskMachine, describeState, type AgentInput, type TaskEvent } from '../../machines/index.ts';
import { quietImplementations } from '../support/quiet-implementations.ts';

const SHA = 'c0'.repeat(20);
const CONFLICT = 'merge-queue: rebasing conveyor/t1 onto origin/main conflicts in app.txt, lib/util.ts';

/** A task machine whose agents are recorded (their input is what CONVEYOR_REASON_FILE is written from). */
function taskAtTheMerge(maxRetries: number) {
  const agents: AgentInput[] = [];
  const runAgent = fromCallback<{ type: string }, AgentInput>(({ input }) => {
    agents.push(input);
  });
  const machine = compileTaskMachine().provide({ actors: { ...(quietImplementations(null as never) as object), runAgent } as never });
  const actor = createActor(machine, {
    input: { id: 't1', repo: 'shop', branch: 'conveyor/t1', createdAt: 0, limits: { maxRetries, maxJobAttempts: 3, jobTimeoutMs: 60_000, baseBackoffMs: 1000, gateTimeoutMs: 60_000 } },
  }).start();
  let at = 0;
  const send = (e: Record<string, unknown>) => actor.send({ at: ++at, ...e } as TaskEvent);
  /** The stage's preparation and its agent's clean exit. */
  const work = () => {
    send({ type: 'stage.prepared' });
    const jobId = actor.getSnapshot().context.job!.id;
    send({ type: 'job.started', jobId });
    send({ type: 'job.exited', jobId, code: 0 });
  };
  work();
  send({ type: 'analysis.approved' });
  work();
  send({ type: 'pr.opened', number: 7, sha: SHA });
  send({ type: 'ci.status', sha: SHA, state: 'success', context: 'ci' });
  work();
  send({ type: 'review.verdict', sha: SHA, verdict: 'approved' });
  work();
  send({ type: 'test.result', sha: SHA, passed: true });
  expect(describeState(actor.getSnapshot().value)).toBe('deploy-staging.mergePullRequest.running');
  const conflict = () => send({ type: 'effect.failed', effect: 'mergePullRequest', error: CONFLICT, retriable: false });
  return { actor, agents, conflict, work };
}

describe('a conflict at the pre-merge rebase', () => {
  it('rolls back with the conflict as the reason the next developer is handed', () => {
    const { actor, agents, conflict } = taskAtTheMerge(3);
    conflict();
    expect(describeState(actor.getSnapshot().value)).toBe('development.preparing');
    expect(actor.getSnapshot().context.lastFailure).toMatchObject({ stage: 'deploy-staging', reason: expect.stringContaining('conflicts in app.txt, lib/util.ts') });
    expect(actor.getSnapshot().context.lastFailure?.reason).not.toContain('staging deploy failed');
    actor.send({ type: 'stage.prepared', at: 1000 });
    const developer = agents.at(-1)!;
    expect(developer).toMatchObject({ stage: 'development', lastFailure: { reason: expect.stringContaining('conflicts in app.txt, lib/util.ts') } });
    actor.stop();
  });

  it('escalates, once retries are spent, with the conflict named once and no repeated prefix', () => {
    const { actor, conflict } = taskAtTheMerge(1);
    conflict();
    expect(describeState(actor.getSnapshot().value)).toBe('escalated');
    const reason = actor.getSnapshot().context.escalation!.reason;
    expect(reason).toContain('conflicts in app.txt, lib/util.ts');
    expect(reason.match(/mergePullRequest failed/g) ?? []).toHaveLength(1);
    expect(actor.getSnapshot().context.lastFailure?.reason).toBe(reason);
    actor.stop();
  });
});
