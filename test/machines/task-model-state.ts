import type { StateValue } from 'xstate';
import { defaultPipeline, describeState, type TaskContext } from '../../machines/index.ts';

const effects = defaultPipeline.stages.flatMap((stage) => stage.effects);

/** What serializeTaskState reads: a live snapshot, or a persisted one (history entries as `{ id }`). */
export interface SnapshotLike {
  value: StateValue;
  status: string;
  context: TaskContext;
  historyValue?: Record<string, ReadonlyArray<{ id: string }>>;
  children?: Record<string, unknown>;
}

// The state a hold resumes to, read from the deep history of `active`.
function resumesTo(snap: SnapshotLike): string {
  const leaves = snap.historyValue?.['task.active.hist'] ?? [];
  return leaves.map((n) => n.id.replace(/^task\.active\./, '')).sort().join(',');
}

/** Where the facts a task gathers will be read: its state, the state a hold resumes to, or the stage it escalated from. */
export function position(snap: SnapshotLike): string {
  const state = describeState(snap.value);
  if (state === 'onHold') return resumesTo(snap);
  if (state === 'escalated') return snap.context.escalation?.stage ?? '';
  return state;
}

function onHead<T extends { sha: string }>(ctx: TaskContext, fact: T | null): T | null {
  return fact && fact.sha === ctx.head?.sha ? fact : null;
}

/**
 * The model's state: the state value plus the facts that can still change a guard's outcome. Counters,
 * timestamps, job ids, shas and deadline values are left out, and so is every fact the current stage
 * clears before it reads it, or the state space explodes.
 */
export function serializeTaskState(snap: SnapshotLike): string {
  const state = describeState(snap.value);
  if (snap.status !== 'active') return JSON.stringify({ state });
  const ctx = snap.context;
  const ci = Object.entries(ctx.ci).map(([name, c]) => `${name}:${c.state}`).sort().join(',');
  // Shas only matter by how they relate: is there a head, and is it the head a rollback declared stale.
  const base = { state, head: ctx.head === null ? 'none' : ctx.head.sha === ctx.staleHead ? 'stale' : 'fresh', ci };
  // A retry from escalated, or going on after a reset, starts the stage afresh: budgets and its facts are reset.
  if (state === 'escalated') return JSON.stringify({ ...base, from: ctx.escalation?.stage ?? null });
  if (state === 'recovery.awaitingAck') return JSON.stringify({ ...base, from: ctx.failure?.stage ?? null });
  if (state === 'recovery.stillDivergent') return JSON.stringify(base);
  // Guards only ask whether attempts are left: past the budget (a human may say "run again" any number of
  // times after an effect's deadline) every count reads the same, so the model stays finite.
  const atMost = (n: number) => Math.min(n, ctx.limits.maxJobAttempts);
  const where = position(snap);
  const [stage = '', sub = ''] = where.split(/\.(.*)/s);
  return JSON.stringify({
    ...base,
    resumes: state === 'onHold' ? where : undefined,
    retries: ctx.retries,
    deadline: ctx.deadline !== null,
    approval: stage === 'analysis' ? ctx.approval : undefined,
    // Pushes happen in development only, and entering review or testing clears these, so off-head equals none.
    verdict: stage === 'review' ? (onHead(ctx, ctx.verdict)?.verdict ?? null) : undefined,
    tests: stage === 'testing' ? (onHead(ctx, ctx.tests)?.passed ?? null) : undefined,
    staging: stage === 'deploy-staging' ? (ctx.deploys.staging?.state ?? null) : undefined,
    production: stage === 'deploy' ? (ctx.deploys.production?.state ?? null) : undefined,
    attempt: /^(working|retrying)/.test(sub) ? atMost(ctx.job?.attempt ?? 1) : undefined,
    effectAttempt: effects.some((e) => sub.startsWith(e)) ? atMost(ctx.effectAttempt) : undefined,
  });
}

