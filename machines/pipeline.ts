/** A gate names the facts that must be green to leave a stage (see gates.ts). */
export type GateName = 'approval' | 'ciGreen' | 'reviewApproved' | 'testsPassed' | 'stagingHealthy' | 'productionHealthy';

/** Side-effectful edges: outside calls that must run exactly once per task and attempt. */
export type EffectName = 'mergePullRequest' | 'deployStaging' | 'deployProduction';

/** What a red gate does: roll back to a stage (counting a developer retry or not), or wait for a human. */
export type OnRed = { rollbackTo: string; countsRetry: boolean } | 'escalate';

/** One stage of the pipeline, as data. */
export interface StageDefinition {
  id: string;
  /** The agent that works this stage as a job; null on purpose when no agent works it (the job passes at once). */
  agent: string | null;
  /** Green to leave. */
  gate: GateName;
  onRed: OnRed;
  /** Leaving needs a human (tracker approval or a resolved decision); nothing automatic passes it. */
  humanGate: boolean;
  /** Effects run, in order, on the edge into this stage, before its agent works. */
  effects: EffectName[];
}

export interface PipelineDefinition {
  stages: StageDefinition[];
  /** Rollbacks that count a retry; at this count the task is escalated. */
  maxRetries: number;
  /** Agent job attempts per stage visit before the task is escalated. */
  maxJobAttempts: number;
  /** Hard ceiling of one agent job. */
  jobTimeoutMs: number;
  /** Backoff before attempt n+1 is baseBackoffMs * 2^(n-1). */
  baseBackoffMs: number;
  /** How long an automatic gate may wait for its facts before the task is escalated (never silently stuck). */
  gateTimeoutMs: number;
  /** How long preparing a stage (worktree, sync) may take before the task is escalated. */
  prepareTimeoutMs: number;
  /** How long an effect (merge, deploy) may go unreported before a human is asked whether it happened. */
  effectTimeoutMs: number;
}

const toDevelopment: OnRed = { rollbackTo: 'development', countsRetry: true };

/** analysis → development → review → testing → deploy-staging → deploy → done (SPEC R1). */
export const defaultPipeline: PipelineDefinition = {
  stages: [
    { id: 'analysis', agent: 'analyst', gate: 'approval', onRed: { rollbackTo: 'analysis', countsRetry: false }, humanGate: true, effects: [] },
    { id: 'development', agent: 'developer', gate: 'ciGreen', onRed: toDevelopment, humanGate: false, effects: [] },
    { id: 'review', agent: 'reviewer', gate: 'reviewApproved', onRed: toDevelopment, humanGate: false, effects: [] },
    { id: 'testing', agent: 'tester', gate: 'testsPassed', onRed: toDevelopment, humanGate: false, effects: [] },
    { id: 'deploy-staging', agent: 'deployer', gate: 'stagingHealthy', onRed: toDevelopment, humanGate: false, effects: ['mergePullRequest', 'deployStaging'] },
    { id: 'deploy', agent: 'deployer', gate: 'productionHealthy', onRed: 'escalate', humanGate: false, effects: ['deployProduction'] },
  ],
  maxRetries: 3,
  maxJobAttempts: 3,
  jobTimeoutMs: 30 * 60_000,
  baseBackoffMs: 5_000,
  gateTimeoutMs: 24 * 60 * 60_000,
  prepareTimeoutMs: 30 * 60_000,
  // Past a deploy command's own timeout (30 min) and a merge waiting its turn in the repository's queue.
  effectTimeoutMs: 2 * 60 * 60_000,
};

/** Problems with a pipeline definition, each naming the stage and field; empty when it compiles. */
export function validatePipeline(p: PipelineDefinition): string[] {
  const problems: string[] = [];
  const ids = new Set<string>();
  if (p.stages.length === 0) problems.push('pipeline: stages must not be empty');
  p.stages.forEach((s, i) => {
    if (!/^[a-z][a-z0-9-]*$/.test(s.id)) problems.push(`pipeline: stages[${i}].id "${s.id}" must be lower-case words joined by dashes`);
    if (ids.has(s.id)) problems.push(`pipeline: stages[${i}].id "${s.id}" is repeated`);
    if (['done', 'cancelled', 'hist'].includes(s.id)) problems.push(`pipeline: stages[${i}].id "${s.id}" is reserved`);
    ids.add(s.id);
  });
  p.stages.forEach((s, i) => {
    if (s.onRed !== 'escalate' && !ids.has(s.onRed.rollbackTo)) {
      problems.push(`pipeline: stages[${i}].onRed.rollbackTo "${s.onRed.rollbackTo}" is not a stage`);
    }
  });
  for (const key of ['maxRetries', 'maxJobAttempts', 'jobTimeoutMs', 'baseBackoffMs', 'gateTimeoutMs', 'prepareTimeoutMs', 'effectTimeoutMs'] as const) {
    if (!Number.isInteger(p[key]) || p[key] < 1) problems.push(`pipeline: ${key} must be a positive integer`);
  }
  return problems;
}
