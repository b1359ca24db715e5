import type { TaskContext } from './context.ts';
import type { GateName } from './pipeline.ts';

/** green: leave the stage; red: the stage's onRed applies; waiting: facts are missing. */
export type GateResult = 'green' | 'red' | 'waiting';

function ciOfHead(ctx: TaskContext): GateResult {
  if (!ctx.head || ctx.head.sha === ctx.staleHead) return 'waiting';
  const states = Object.values(ctx.ci).map((c) => c.state);
  if (states.some((s) => s === 'failure' || s === 'error')) return 'red';
  if (states.length > 0 && states.every((s) => s === 'success')) return 'green';
  return 'waiting';
}

function onHead<T extends { sha: string }>(ctx: TaskContext, fact: T | null): T | null {
  return fact && ctx.head && fact.sha === ctx.head.sha ? fact : null;
}

/** Evaluates a gate from the facts a task has gathered; pure, so the reconciler can ask it read-only. */
export function evaluateGate(gate: GateName, ctx: TaskContext): GateResult {
  switch (gate) {
    case 'approval':
      return ctx.approval === 'approved' ? 'green' : ctx.approval === 'rejected' ? 'red' : 'waiting';
    case 'ciGreen':
      return ciOfHead(ctx);
    case 'reviewApproved': {
      const v = onHead(ctx, ctx.verdict);
      return !v ? 'waiting' : v.verdict === 'approved' ? 'green' : 'red';
    }
    case 'testsPassed': {
      const t = onHead(ctx, ctx.tests);
      return !t ? 'waiting' : t.passed ? 'green' : 'red';
    }
    case 'stagingHealthy':
      return deployGate(ctx.deploys.staging);
    case 'productionHealthy':
      return deployGate(ctx.deploys.production);
    default: {
      const never: never = gate;
      throw new Error(`machines: unknown gate ${String(never)}`);
    }
  }
}

function deployGate(fact: TaskContext['deploys']['staging']): GateResult {
  return !fact ? 'waiting' : fact.state === 'success' ? 'green' : 'red';
}

/** The facts a gate reads, cleared when its stage is entered so an old verdict never passes a new visit. */
export function clearGateFacts(gate: GateName, ctx: TaskContext): Partial<TaskContext> {
  switch (gate) {
    case 'approval':
      return { approval: null };
    case 'ciGreen':
      return {};
    case 'reviewApproved':
      return { verdict: null };
    case 'testsPassed':
      return { tests: null };
    case 'stagingHealthy':
      return { deploys: { ...ctx.deploys, staging: null } };
    case 'productionHealthy':
      return { deploys: { ...ctx.deploys, production: null } };
    default: {
      const never: never = gate;
      throw new Error(`machines: unknown gate ${String(never)}`);
    }
  }
}

/** Why a red gate is red, in words an operator and the next agent run can act on. */
export function gateRedReason(gate: GateName, ctx: TaskContext): string {
  switch (gate) {
    case 'approval':
      return 'analysis was rejected';
    case 'ciGreen': {
      const failed = Object.entries(ctx.ci).filter(([, c]) => c.state === 'failure' || c.state === 'error');
      return `CI failed on ${ctx.head?.sha ?? 'the head'}: ${failed.map(([name, c]) => `${name}${c.url ? ` (${c.url})` : ''}`).join(', ')}`;
    }
    case 'reviewApproved':
      return `review requested changes${ctx.verdict?.comments ? `: ${ctx.verdict.comments}` : ''}`;
    case 'testsPassed':
      return `tests failed${ctx.tests?.summary ? `: ${ctx.tests.summary}` : ''}`;
    case 'stagingHealthy':
      return `staging deploy failed${ctx.deploys.staging?.url ? ` (${ctx.deploys.staging.url})` : ''}`;
    case 'productionHealthy':
      return `production deploy failed${ctx.deploys.production?.url ? ` (${ctx.deploys.production.url})` : ''}`;
    default: {
      const never: never = gate;
      throw new Error(`machines: unknown gate ${String(never)}`);
    }
  }
}
