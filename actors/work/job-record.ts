import type { AgentQuestion, Usage } from '../agents/index.ts';

/** A job's lifecycle as recorded in the store (collection "jobs"), readable at GET /api/jobs/:id. */
export interface JobRecord {
  id: string;
  taskId: string;
  stage: string;
  /** null for a stage declared to run with no agent. */
  agent: string | null;
  repo: string;
  attempt: number;
  status: 'queued' | 'starting' | 'running' | 'exited' | 'timed_out' | 'failed_to_start' | 'killed' | 'lost' | 'orphaned';
  requestedAt: number;
  bootId: string;
  pid?: number | null;
  startedAt?: number;
  finishedAt?: number;
  exitCode?: number | null;
  signal?: string | null;
  reason?: string;
  logPath: string;
  /** sha256 of the job's API token; the token itself is never stored. */
  tokenHash?: string;
  /** The agent's kind when it is a known CLI (`claude-code`, `codex`); absent for a plain command. */
  kind?: string;
  /** The CLI's own session, as its output reported it: what a later job of the same stage resumes. */
  session?: string;
  /** The session this job was started to resume. */
  resumedSession?: string;
  /** How much the job's activity log holds, and when it last grew. */
  activity?: { count: number; lastAt: number | null };
  /** Tokens and cost the CLI reported for this job. */
  usage?: Usage;
  /** The question the agent ended with, for a person to answer. */
  question?: AgentQuestion;
}

export const jobStatuses: readonly JobRecord['status'][] = ['queued', 'starting', 'running', 'exited', 'timed_out', 'failed_to_start', 'killed', 'lost', 'orphaned'];

export const finishedStatuses: ReadonlySet<JobRecord['status']> = new Set(['exited', 'timed_out', 'failed_to_start', 'killed', 'lost']);
