import type { CiState, Verdict } from './events.ts';

export interface JobState {
  id: string;
  attempt: number;
  pid?: number;
  startedAt?: number;
  /** How many steering messages this job was started with; a clean exit hands those over. */
  steered?: number;
}

/** A person's words to the agent, waiting for the stage's next run. */
export interface Steering {
  text: string;
  by?: string;
  via?: string;
  at: number;
  /** The agent's question these words answer, when they are an answer. */
  answers?: string;
}

/** A question an agent ended its run with, for a person to answer. */
export interface AgentQuestion {
  text: string;
  options?: string[];
}

export interface Failure {
  stage: string;
  reason: string;
  at: number;
  /** The job whose run failed, when a job did; its log tail goes to the next run. */
  jobId?: string;
  /** The head the failure was seen on. */
  sha?: string;
}

export interface DeployFact {
  state: 'success' | 'failure';
  url?: string;
  at: number;
}

/** Limits a task was created with; kept in context so a restored task keeps the rules it started under. */
export interface TaskLimits {
  maxRetries: number;
  maxJobAttempts: number;
  jobTimeoutMs: number;
  baseBackoffMs: number;
  gateTimeoutMs: number;
  /** Absent in tasks created before these deadlines existed: the pipeline's defaults apply. */
  prepareTimeoutMs?: number;
  effectTimeoutMs?: number;
}

/** Everything a task has gathered. Lifecycle lives in the state value, not here. */
export interface TaskContext {
  id: string;
  repo: string;
  branch: string;
  createdAt: number;
  limits: TaskLimits;
  /** Bumped when a stage restarts from a clean slate; part of every effect's idempotency key. */
  epoch: number;
  /** Bumped on every stage entry, so an effect of a later visit is a new effect. */
  stageVisit: number;
  stageEnteredAt: number;
  head: { sha: string; pr: number | null; url?: string } | null;
  /** The head a rollback sent back to development: its CI no longer counts, the fix must be a new head. */
  staleHead: string | null;
  /** Latest CI status per context, for the head sha only. */
  ci: Record<string, { state: CiState; url?: string; description?: string }>;
  approval: 'approved' | 'rejected' | null;
  verdict: { sha: string; verdict: Verdict; comments?: string } | null;
  tests: { sha: string; passed: boolean; summary?: string } | null;
  deploys: { staging: DeployFact | null; production: DeployFact | null };
  merged: { sha: string; mergeSha?: string } | null;
  /** Developer retries (rollbacks that count); survives any flapping of statuses. */
  retries: number;
  jobSeq: number;
  job: JobState | null;
  effectAttempt: number;
  /** Absolute deadline of the timer the current state runs, or null. */
  deadline: number | null;
  lastFailure: Failure | null;
  escalation: { stage: string; reason: string } | null;
  hold: { reason: string } | null;
  /** Steering not yet handed to a run; absent in snapshots older than steering. */
  steering?: Steering[];
  /** The question the stage's agent waits to have answered; absent in snapshots older than questions. */
  question?: AgentQuestion | null;
  /** Tasks this one waited on that have reached done. */
  dependenciesDone: string[];
  decisionSeq: number;
  /** The decision this task waits on, if any; its id routes the answer. */
  decision: { id: string; contextKey: string; options: string[] } | null;
  /** Set when the task (and its stage) failed and waits in recovery for a human. */
  failure: { stage: string; kind: 'hard_reset' | 'sync_failed'; reason: string; at: number; backupRef: string; discardedShas: string[] } | null;
}

export interface TaskInput {
  id: string;
  repo: string;
  branch: string;
  createdAt: number;
  limits: TaskLimits;
}

export function initialContext(input: TaskInput): TaskContext {
  return {
    ...input,
    epoch: 0,
    stageVisit: 1,
    stageEnteredAt: input.createdAt,
    head: null,
    staleHead: null,
    ci: {},
    approval: null,
    verdict: null,
    tests: null,
    deploys: { staging: null, production: null },
    merged: null,
    retries: 0,
    jobSeq: 0,
    job: null,
    effectAttempt: 1,
    deadline: null,
    lastFailure: null,
    escalation: null,
    hold: null,
    steering: [],
    dependenciesDone: [],
    decisionSeq: 0,
    decision: null,
    failure: null,
  };
}

/** The idempotency key of the current attempt of an effect (task, effect, run epoch, stage visit, attempt). */
export function effectKey(context: TaskContext, effect: string): string {
  return `${context.id}:${effect}:e${context.epoch}:v${context.stageVisit}:a${context.effectAttempt}`;
}
