import type { EffectInput } from '../../machines/index.ts';
import type { RuntimeHandle } from '../types.ts';
import { NonRetriableError, RetriableError } from './errors.ts';
import { journaledEffect } from './journal.ts';
import { runCommand } from './run-command.ts';

/** Deploy command lines (argv, no shell); `check` asks whether an environment runs the task's change (exit 0: yes). */
export interface DeployCommands {
  staging?: string[];
  production?: string[];
  check?: string[];
  /** What the commands need beyond the allowlisted environment (credentials of the deploy target, say); conveyor's own secrets are never passed. */
  env?: Record<string, string>;
}

export interface DeployEffectOptions {
  rt: RuntimeHandle;
  name: 'deployStaging' | 'deployProduction';
  commands?: DeployCommands;
  /** Where the commands run: the task's worktree, or a directory of conveyor's when it has none. */
  cwdFor(taskId: string): Promise<string>;
  timeoutMs?: number;
  /** Runs the commands; spawns them unless simulated. */
  runCommand?: typeof runCommand;
}

/**
 * A deploy actor: the journaled run of the configured command for its environment, or an instant
 * `{ skipped: true }` (still journaled) when none is configured. After a crash the check command,
 * if any, says whether the deploy happened; otherwise the outcome is unknown and a human decides.
 */
export function deployEffect(o: DeployEffectOptions) {
  const environment = o.name === 'deployStaging' ? 'staging' : 'production';
  const command = o.commands?.[environment];
  const timeoutMs = o.timeoutMs ?? 30 * 60_000;
  const run = o.runCommand ?? runCommand;
  const env = (input: EffectInput) => ({
    ...o.commands?.env,
    CONVEYOR_TASK_ID: input.taskId,
    CONVEYOR_EFFECT: input.effect,
    CONVEYOR_EFFECT_KEY: input.key,
    CONVEYOR_ENVIRONMENT: environment,
    CONVEYOR_REPO: input.repo,
    CONVEYOR_BRANCH: input.branch,
    CONVEYOR_SHA: input.head?.sha ?? '',
  });

  return journaledEffect({
    rt: o.rt,
    name: o.name,
    idempotent: false,
    run: async (input) => {
      if (!command?.length) return { environment, skipped: true };
      const exit = await run(command, { cwd: await o.cwdFor(input.taskId), env: env(input), timeoutMs });
      if (exit.code === 0) return { environment, exitCode: 0, output: exit.output.slice(-1024) };
      const why = exit.error ?? `exited with code ${exit.code}: ${lastLine(exit.output)}`;
      // A command that cannot even start will not start on the next attempt either.
      if (exit.code === null && exit.error?.includes('cannot run')) throw new NonRetriableError(`deploy: ${environment}: ${why}`);
      throw new RetriableError(`deploy: ${environment}: ${why}`);
    },
    reconcile: async (_record, input) => {
      if (!command?.length) return { notDone: true };
      const check = o.commands?.check;
      if (!check?.length) return { unknown: `no check command is configured to tell whether the ${environment} deploy ran` };
      const exit = await run(check, { cwd: await o.cwdFor(input.taskId), env: env(input), timeoutMs });
      if (exit.code === 0) return { done: { environment, exitCode: 0, checked: true, output: exit.output.slice(-1024) } };
      return { unknown: `the ${environment} check ${exit.error ?? `exited with code ${exit.code}: ${lastLine(exit.output)}`}` };
    },
  });
}

function lastLine(output: string): string {
  return output.trim().split('\n').pop()?.slice(0, 300) || 'no output';
}
