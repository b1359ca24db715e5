import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { rmSync, statSync } from 'node:fs';
import { appendFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { childEnvironment } from './child-environment.ts';
import { DEFAULT_MAX_LOG_BYTES, openBoundedLog } from './log-file.ts';
import type { BoundedLog } from './log-file.ts';
import { readExitFile, reattach, terminate } from './process-alive.ts';
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
  /** The log takes stdout and stderr a whole line at a time, so one never cuts into the other's line (structured output). */
  wholeLines?: boolean;
  /** The agent's stdin is fed from this file's lines as they are appended (see relay.mjs, --inbox). */
  inbox?: string;
}

// setTimeout fires at once for delays past 2^31 - 1 ms; such a timeout means about 25 days.
const MAX_TIMER_MS = 2 ** 31 - 1;
const RELAY = fileURLToPath(new URL('./relay.mjs', import.meta.url));

/** Where the relay of a job records how its agent ended: next to the job's log. */
export function exitFilePath(logPath: string): string {
  return `${logPath}.exit.json`;
}

/** The environment of an agent: the allowlisted part of conveyor's, the job's extras, then the names of the job; never conveyor's secrets. */
export function jobEnvironment(spec: JobSpec): NodeJS.ProcessEnv {
  return childEnvironment({
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
  });
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

// Written like BoundedLog's notes; a failing disk must not take the job down with it.
async function appendNote(logPath: string, text: string): Promise<void> {
  await appendFile(logPath, `[conveyor: ${text}]\n`).catch(() => undefined);
}

/**
 * Runs each job through a relay process (relay.mjs) that leads its own process group: the relay
 * writes the agent's output to a bounded log and its exit status to `exitFilePath(logPath)`, and
 * holds no pipe to conveyor, so an agent outlives a conveyor restart and its exit code is not lost.
 */
export class CommandExecutor implements Executor {
  /** The relay's arguments after its exit file: `-- argv...` or `--shell command`. */
  readonly #relayArgs: readonly string[];
  readonly #clock: Clock;
  readonly #maxLogBytes: number;
  readonly #killGraceMs: number;

  constructor(options: CommandExecutorOptions) {
    const { command } = options;
    if (typeof command === 'string') this.#relayArgs = ['--shell', command];
    else {
      if (command[0] === undefined || command[0] === '') throw new Error('executors: command is empty');
      this.#relayArgs = ['--', ...command];
    }
    this.#clock = options.clock ?? systemClock;
    this.#maxLogBytes = options.maxLogBytes ?? DEFAULT_MAX_LOG_BYTES;
    this.#killGraceMs = options.killGraceMs ?? 3000;
    if (options.wholeLines) this.#relayArgs = ['--lines', ...this.#relayArgs];
    if (options.inbox) this.#relayArgs = ['--inbox', options.inbox, ...this.#relayArgs];
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
    const exitFile = exitFilePath(spec.logPath);
    try {
      // A record left by an earlier run at this path must never pass for this run's.
      rmSync(exitFile, { force: true });
    } catch (err) {
      return this.#failed(startedAt, log, `executors: cannot clear ${exitFile}: ${(err as Error).message}`);
    }
    const args = [RELAY, spec.logPath, String(this.#maxLogBytes), exitFile, ...(spec.held ? ['--held'] : []), ...this.#relayArgs];
    let child: ChildProcess;
    try {
      // detached: the relay leads its own process group, which its agent shares, so a kill reaches
      // everything the agent started; with stdio ignored, nothing ties either to this process. A held
      // relay has its stdin on a pipe from here until begin(): if this process dies first, the pipe closes.
      const stdio = spec.held ? (['pipe', 'ignore', 'ignore'] as const) : 'ignore';
      child = spawn(process.execPath, args, { cwd: spec.cwd, env: jobEnvironment(spec), detached: true, stdio: stdio as never });
      child.stdin?.on('error', () => undefined);
    } catch (err) {
      return this.#failed(startedAt, log, `executors: cannot spawn ${process.execPath}: ${(err as Error).message}`);
    }
    // From here on the relay writes the log; conveyor appends its notes once the relay is gone.
    return this.#watch(child, spec, startedAt, log.close(), exitFile);
  }

  /**
   * Watches a job left running by an earlier conveyor process; given the job's log path, its real
   * exit is read from the relay's exit file. See `reattach`.
   */
  reattach(pid: number, startedAt: number, pollMs = 500, logPath?: string): RunningJob {
    const exitFile = logPath === undefined ? undefined : exitFilePath(logPath);
    return reattach(pid, startedAt, { pollMs, exitFile, clock: this.#clock, killGraceMs: this.#killGraceMs });
  }

  #failed(startedAt: number, log: BoundedLog | null, error: string): RunningJob {
    log?.note(`spawn failed: ${error}`);
    const exit = (log?.close() ?? Promise.resolve()).then(
      (): JobExit => ({ kind: 'spawn_failed', error, finishedAt: this.#clock.now() }),
    );
    return { pid: null, startedAt, exit, kill: () => undefined };
  }

  #watch(child: ChildProcess, spec: JobSpec, startedAt: number, released: Promise<void>, exitFile: string): RunningJob {
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

    let timer: ReturnType<typeof setTimeout> | null = null;
    // The timeout bounds the agent's run: a held job's starts at begin(), when its agent does.
    const arm = () => {
      if (timer || ended || !Number.isFinite(spec.timeoutMs)) return;
      timer = setTimeout(() => {
        timedOut = true;
        void killGroup();
      }, Math.min(Math.max(0, spec.timeoutMs), MAX_TIMER_MS));
    };
    if (!spec.held) arm();

    let resolveCleared: () => void = () => undefined;
    const cleared = new Promise<void>((resolve) => {
      resolveCleared = resolve;
    });
    const exit = new Promise<JobExit>((resolve) => {
      child.on('error', (err) => {
        // After a successful spawn an 'error' can only come from signalling, which goes elsewhere.
        if (pid !== null || ended) return;
        ended = true;
        if (timer) clearTimeout(timer);
        resolveCleared();
        const error = `executors: cannot spawn ${process.execPath}: ${err.message}`;
        const finish = async (): Promise<JobExit> => {
          await released;
          await appendNote(spec.logPath, `spawn failed: ${error}`);
          return { kind: 'spawn_failed', error, finishedAt: this.#clock.now() };
        };
        void finish().then(resolve);
      });
      child.once('exit', (code, signal) => {
        if (ended) return;
        ended = true;
        if (timer) clearTimeout(timer);
        const finishedAt = this.#clock.now();
        // The job is over when its agent is: whatever it left running in the group goes too, but its exit
        // is a fact now, not after the group's grace (a helper that ignores SIGTERM must not hold it back).
        void killGroup().then(resolveCleared);
        const finish = async (): Promise<JobExit> => {
          await released;
          if (timedOut) await appendNote(spec.logPath, `timed out after ${spec.timeoutMs} ms; process group killed`);
          else if (killedFor !== null) await appendNote(spec.logPath, `killed: ${killedFor}`);
          if (timedOut) return { kind: 'timed_out', finishedAt };
          const recorded = readExitFile(exitFile);
          if (recorded.kind === 'ok') return { ...recorded.exit, finishedAt };
          // No record: the relay itself died (a SIGKILL, say) and its own end is all there is.
          return { kind: 'exited', code, signal, finishedAt };
        };
        void finish().then(resolve);
      });
    });

    return {
      pid,
      startedAt,
      exit,
      cleared,
      kill: (reason: string): void => {
        if (ended || pid === null || timedOut) return;
        killedFor ??= reason;
        void killGroup();
      },
      begin: (): void => {
        arm();
        child.stdin?.end('go\n');
      },
    };
  }
}
