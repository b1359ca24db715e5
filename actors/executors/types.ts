/** Everything an executor needs to run one attempt of one stage's agent. */
export interface JobSpec {
  jobId: string;
  taskId: string;
  stage: string;
  agent: string;
  repo: string;
  branch: string;
  attempt: number;
  /** The task's git worktree; the agent runs there. */
  cwd: string;
  /** Extra environment; the CONVEYOR_* names are set by the executor and win over these. */
  env?: Record<string, string>;
  timeoutMs: number;
  /** Base URL of conveyor's API, where the agent reports its structured result. */
  apiBase: string;
  /** Valid only for this job and only while it runs. */
  token: string;
  /** Created or truncated at start; holds the agent's stdout and stderr, bounded. */
  logPath: string;
  /** What an agent CLI of a known kind is asked to do (built from the task); a plain command gets it in CONVEYOR_PROMPT_FILE only if it wants. */
  prompt?: string;
  /** The agent's own session to resume (recorded by an earlier job of the same task and stage). */
  resumeSession?: string | null;
  /**
   * The agent starts only at `begin()`, once the job record names its process; a process whose conveyor
   * dies before that never starts its agent. Without it the agent starts at once.
   */
  held?: boolean;
}

/** How a job ended, as far as the executor can tell; never a verdict on the work itself. */
export type JobExit =
  | { kind: 'exited'; code: number | null; signal: string | null; finishedAt: number }
  /** conveyor killed the whole process group after timeoutMs. */
  | { kind: 'timed_out'; finishedAt: number }
  | { kind: 'spawn_failed'; error: string; finishedAt: number }
  /** After re-attach the process vanished and its exit code is unknowable. */
  | { kind: 'lost'; finishedAt: number };

/** A started job: its identity for the job record, and a promise of its end that never rejects. */
export interface RunningJob {
  pid: number | null;
  startedAt: number;
  /** Settles the moment the agent's own process has ended, while anything it left in its group may still be dying. */
  exit: Promise<JobExit>;
  /** Settles once whatever the job left in its process group is gone too (after `exit`); absent where nothing outlives the job. */
  cleared?: Promise<void>;
  /** Ends the job (the whole process group for a command); a no-op once it has ended. */
  kill(reason: string): void;
  /** Lets a held job's agent start (see `JobSpec.held`); absent where nothing is held. */
  begin?(): void;
}

/** Runs agents as jobs. */
export interface Executor {
  start(spec: JobSpec): RunningJob;
  /**
   * Watches a job an earlier conveyor process started (its relay's pid, start time and log path), ending
   * what it leaves behind as this executor would; absent where no job outlives its conveyor.
   */
  reattach?(pid: number, startedAt: number, pollMs?: number, logPath?: string): RunningJob;
}

/** The source of timestamps recorded on jobs. */
export interface Clock {
  now(): number;
}

/** Wall-clock time. */
export const systemClock: Clock = { now: () => Date.now() };
