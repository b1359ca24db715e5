import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { statSync } from 'node:fs';
import { DEFAULT_MAX_LOG_BYTES, openBoundedLog } from './log-file.ts';
import type { BoundedLog } from './log-file.ts';
import { reattach, terminate } from './process-alive.ts';
import { systemClock } from './types.ts';
import type { Clock, Executor, JobExit, JobSpec, RunningJob } from './types.ts';

/** Options of a CommandExecutor. */
export interface CommandExecutorOptions {
  /** An argv array, or a shell string run with `/bin/sh -c`. */
  command: string[] | string;
  clock?: Clock;
  /** Bound of each job's log; default 1 MiB. */
  maxLogBytes?: number;
  /** Time between SIGTERM and SIGKILL when a job's process group is killed; default 3 s. */
  killGraceMs?: number;
}

// setTimeout fires at once for delays past 2^31 - 1 ms; such a timeout means about 25 days.
const MAX_TIMER_MS = 2 ** 31 - 1;
// After the group is gone its pipes close at once, unless a process escaped the group with setsid.
const PIPE_CLOSE_WAIT_MS = 1000;

/** The environment of an agent: conveyor's own, the job's extras, then the names of the job. */
export function jobEnvironment(spec: JobSpec): NodeJS.ProcessEnv {
  return {
    ...process.env,
    ...spec.env,
    CONVEYOR_TASK_ID: spec.taskId,
    CONVEYOR_STAGE: spec.stage,
    CONVEYOR_AGENT: spec.agent,
    CONVEYOR_BRANCH: spec.branch,
    CONVEYOR_REPO: spec.repo,
    CONVEYOR_ATTEMPT: String(spec.attempt),
    CONVEYOR_API: spec.apiBase,
    CONVEYOR_JOB_ID: spec.jobId,
    CONVEYOR_TOKEN: spec.token,
  };
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

function withCap(closed: Promise<void>, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const cap = setTimeout(resolve, ms);
    void closed.then(() => {
      clearTimeout(cap);
      resolve();
    });
  });
}

/**
 * Runs each job as a child process in its own process group, its output in a bounded log.
 * Limit: output flows through pipes to this process, so an agent that outlives a conveyor restart
 * gets SIGPIPE (or EPIPE) at its next write; only quiet agents survive to be re-attached.
 */
export class CommandExecutor implements Executor {
  readonly #argv: readonly [string, ...string[]];
  readonly #clock: Clock;
  readonly #maxLogBytes: number;
  readonly #killGraceMs: number;

  constructor(options: CommandExecutorOptions) {
    const { command } = options;
    const argv = typeof command === 'string' ? ['/bin/sh', '-c', command] : [...command];
    const [file, ...args] = argv;
    if (file === undefined || file === '') throw new Error('executors: command is empty');
    this.#argv = [file, ...args];
    this.#clock = options.clock ?? systemClock;
    this.#maxLogBytes = options.maxLogBytes ?? DEFAULT_MAX_LOG_BYTES;
    this.#killGraceMs = options.killGraceMs ?? 3000;
  }

  /** Starts the job's command; the returned exit promise never rejects. */
  start(spec: JobSpec): RunningJob {
    const startedAt = this.#clock.now();
    const opened = openBoundedLog(spec.logPath, this.#maxLogBytes);
    if (!opened.ok) return this.#failed(startedAt, null, opened.error);
    const log = opened.log;
    if (!isDirectory(spec.cwd)) {
      return this.#failed(startedAt, log, `executors: working directory ${spec.cwd} does not exist`);
    }
    const [file, ...args] = this.#argv;
    let child: ChildProcess;
    try {
      // detached: the job leads its own process group, so a kill reaches everything it started.
      child = spawn(file, args, { cwd: spec.cwd, env: jobEnvironment(spec), detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (err) {
      return this.#failed(startedAt, log, `executors: cannot spawn ${file}: ${(err as Error).message}`);
    }
    return this.#watch(child, spec, startedAt, log);
  }

  /** Watches a job left running by an earlier conveyor process; see `reattach`. */
  reattach(pid: number, startedAt: number, pollMs = 500): RunningJob {
    return reattach(pid, startedAt, pollMs, { clock: this.#clock, killGraceMs: this.#killGraceMs });
  }

  #failed(startedAt: number, log: BoundedLog | null, error: string): RunningJob {
    log?.note(`spawn failed: ${error}`);
    const exit = (log?.close() ?? Promise.resolve()).then(
      (): JobExit => ({ kind: 'spawn_failed', error, finishedAt: this.#clock.now() }),
    );
    return { pid: null, startedAt, exit, kill: () => undefined };
  }

  #watch(child: ChildProcess, spec: JobSpec, startedAt: number, log: BoundedLog): RunningJob {
    const pid = child.pid ?? null;
    let ended = false;
    let timedOut = false;
    let killedFor: string | null = null;
    let killing: Promise<void> | null = null;
    const killGroup = (): Promise<void> => {
      if (pid === null) return Promise.resolve();
      killing ??= terminate(pid, this.#killGraceMs, true);
      return killing;
    };

    // 'close' comes once the process has exited and every holder of its pipes has closed them.
    const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
    // Drain both pipes whatever the log keeps, so the agent never blocks on a full pipe.
    for (const stream of [child.stdout, child.stderr]) {
      stream?.on('data', (chunk: Buffer) => log.write(chunk));
      stream?.on('error', () => undefined);
    }

    const timer = Number.isFinite(spec.timeoutMs)
      ? setTimeout(() => {
          timedOut = true;
          void killGroup();
        }, Math.min(Math.max(0, spec.timeoutMs), MAX_TIMER_MS))
      : null;

    const exit = new Promise<JobExit>((resolve) => {
      child.on('error', (err) => {
        // After a successful spawn an 'error' can only come from signalling, which goes elsewhere.
        if (pid !== null || ended) return;
        ended = true;
        if (timer) clearTimeout(timer);
        const error = `executors: cannot spawn ${this.#argv[0]}: ${err.message}`;
        log.note(`spawn failed: ${error}`);
        void log.close().then(() => resolve({ kind: 'spawn_failed', error, finishedAt: this.#clock.now() }));
      });
      child.once('exit', (code, signal) => {
        if (ended) return;
        ended = true;
        if (timer) clearTimeout(timer);
        const finishedAt = this.#clock.now();
        const finish = async (): Promise<JobExit> => {
          // The job is over when its main process is: whatever it left running in its group goes too.
          await killGroup();
          await withCap(closed, PIPE_CLOSE_WAIT_MS);
          child.stdout?.destroy();
          child.stderr?.destroy();
          if (timedOut) log.note(`timed out after ${spec.timeoutMs} ms; process group killed`);
          else if (killedFor !== null) log.note(`killed: ${killedFor}`);
          await log.close();
          return timedOut ? { kind: 'timed_out', finishedAt } : { kind: 'exited', code, signal, finishedAt };
        };
        void finish().then(resolve);
      });
    });

    return {
      pid,
      startedAt,
      exit,
      kill: (reason: string): void => {
        if (ended || pid === null || timedOut) return;
        killedFor ??= reason;
        void killGroup();
      },
    };
  }
}
