import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { CommandExecutor, type Executor, type JobSpec, type RunningJob } from '../executors/index.ts';
import { inboxPathFor } from './activity-recorder.ts';
import type { AgentKind } from './types.ts';

export interface KindExecutorOptions {
  kind: AgentKind;
  /** The CLI and any flags of the user's own (a model, a permission mode); the kind's default when absent. */
  command?: readonly string[];
  maxLogBytes?: number;
  /** Time between SIGTERM and SIGKILL when a job's process group is killed. */
  killGraceMs?: number;
}

/**
 * Runs an agent CLI of a known kind as a command job: its argv is the command, then the kind's
 * non-interactive flags with the job's prompt, resuming the job's session when it has one. Output goes
 * to the job's log a whole line at a time, so stdout's JSON lines are never cut by stderr's.
 */
export class KindExecutor implements Executor {
  constructor(private readonly o: KindExecutorOptions) {}

  get kind(): AgentKind {
    return this.o.kind;
  }

  start(spec: JobSpec): RunningJob {
    const argv = this.o.kind.argv(this.#command, spec.prompt ?? '', spec.resumeSession ?? null);
    const { input } = this.o.kind;
    // A kind with input gets its prompt as the inbox's first line; later lines reach the running session.
    const inbox = input ? inboxPathFor(spec.logPath) : undefined;
    if (inbox && input) {
      mkdirSync(dirname(inbox), { recursive: true });
      writeFileSync(inbox, `${input.message(spec.prompt ?? '')}\n`);
    }
    return this.#executor(argv, inbox).start(spec);
  }

  reattach(pid: number, startedAt: number, pollMs?: number, logPath?: string): RunningJob {
    return this.#executor(this.#command).reattach(pid, startedAt, pollMs, logPath);
  }

  get #command(): readonly string[] {
    return this.o.command ?? this.o.kind.defaultCommand;
  }

  #executor(argv: readonly string[], inbox?: string): CommandExecutor {
    return new CommandExecutor({ command: [...argv], maxLogBytes: this.o.maxLogBytes, killGraceMs: this.o.killGraceMs, wholeLines: true, inbox });
  }
}
