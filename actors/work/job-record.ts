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
}

export const jobStatuses: readonly JobRecord['status'][] = ['queued', 'starting', 'running', 'exited', 'timed_out', 'failed_to_start', 'killed', 'lost', 'orphaned'];

export const finishedStatuses: ReadonlySet<JobRecord['status']> = new Set(['exited', 'timed_out', 'failed_to_start', 'killed', 'lost']);
