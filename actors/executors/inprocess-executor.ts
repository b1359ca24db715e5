import { openBoundedLog } from './log-file.ts';
import { systemClock } from './types.ts';
import type { Clock, Executor, JobExit, JobSpec, RunningJob } from './types.ts';

/** An agent run inside conveyor's process: resolves its exit code, and should stop when signal aborts. */
export type InProcessAgent = (spec: JobSpec, signal: AbortSignal) => Promise<number>;

/** Options of an InProcessExecutor. */
export interface InProcessExecutorOptions {
  clock?: Clock;
}

const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Runs each job as a function call, for tests and the demo. The log at spec.logPath is created at
 * start; the function may append its own output to it.
 */
export class InProcessExecutor implements Executor {
  readonly #fn: InProcessAgent;
  readonly #clock: Clock;

  constructor(fn: InProcessAgent, options: InProcessExecutorOptions = {}) {
    this.#fn = fn;
    this.#clock = options.clock ?? systemClock;
  }

  /** Calls the function; a throw becomes exit code 1, a timeout aborts the signal and ends the job at once. */
  start(spec: JobSpec): RunningJob {
    const startedAt = this.#clock.now();
    const opened = openBoundedLog(spec.logPath);
    if (!opened.ok) {
      const exit = Promise.resolve<JobExit>({ kind: 'spawn_failed', error: opened.error, finishedAt: this.#clock.now() });
      return { pid: null, startedAt, exit, kill: () => undefined };
    }
    const log = opened.log;
    const controller = new AbortController();
    let ended = false;
    let resolveExit: (exit: JobExit) => void = () => undefined;
    const exit = new Promise<JobExit>((resolve) => {
      resolveExit = resolve;
    });

    // Whatever ends the job first wins; a function that ignores its signal is left behind, unheard.
    const end = (outcome: JobExit, note?: string): void => {
      if (ended) return;
      ended = true;
      if (timer) clearTimeout(timer);
      if (note !== undefined) log.note(note);
      void log.close().then(() => resolveExit(outcome));
    };

    const timer = Number.isFinite(spec.timeoutMs)
      ? setTimeout(() => {
          controller.abort(new Error(`executors: job ${spec.jobId} timed out`));
          end({ kind: 'timed_out', finishedAt: this.#clock.now() }, `timed out after ${spec.timeoutMs} ms`);
        }, Math.min(Math.max(0, spec.timeoutMs), MAX_TIMER_MS))
      : null;

    void Promise.resolve()
      // A job killed before its first turn never runs at all.
      .then(() => (ended ? null : this.#fn(spec, controller.signal)))
      .then(
        (code) => {
          if (code !== null) end({ kind: 'exited', code, signal: null, finishedAt: this.#clock.now() });
        },
        (err: unknown) => {
          const message = err instanceof Error ? err.message : String(err);
          end({ kind: 'exited', code: 1, signal: null, finishedAt: this.#clock.now() }, `agent failed: ${message}`);
        },
      );

    return {
      pid: null,
      startedAt,
      exit,
      kill: (reason: string): void => {
        if (ended) return;
        controller.abort(new Error(`executors: job ${spec.jobId} killed: ${reason}`));
        // Mirrors a command job ended by conveyor's SIGTERM.
        end({ kind: 'exited', code: null, signal: 'SIGTERM', finishedAt: this.#clock.now() }, `killed: ${reason}`);
      },
    };
  }
}
