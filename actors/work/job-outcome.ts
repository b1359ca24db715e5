import type { JobExit } from '../executors/index.ts';
import type { JobRecord } from './job-record.ts';

/** What a job's end means to its record and its task: the exit code the task is told, why, and the record's status. */
export interface JobOutcome {
  code: number | null;
  reason?: string;
  status: JobRecord['status'];
}

/** The one reading of an exit, whoever records it: the job's own watcher or the reaper reading the relay's exit file. */
export function jobOutcome(exit: JobExit): JobOutcome {
  switch (exit.kind) {
    case 'exited':
      return { code: exit.code, status: 'exited', reason: exit.signal ? `agent killed by ${exit.signal}` : undefined };
    case 'timed_out':
      return { code: null, status: 'timed_out', reason: 'agent ran past its timeout and was killed' };
    case 'spawn_failed':
      return { code: null, status: 'failed_to_start', reason: `agent could not start: ${exit.error}` };
    case 'lost':
      return { code: null, status: 'lost', reason: 'agent process vanished; its exit code is unknown' };
    default: {
      const never: never = exit;
      throw new Error(`work: unknown exit ${JSON.stringify(never)}`);
    }
  }
}
