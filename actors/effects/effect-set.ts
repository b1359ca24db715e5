import type { RuntimeHandle } from '../types.ts';
import { deployEffect, type DeployCommands } from './deploy-effect.ts';
import { ForgeClient, type ForgeConfig } from './forge-client.ts';
import { mergeEffect } from './merge-effect.ts';
import type { RebaseOutcome } from './rebase.ts';
import type { runCommand } from './run-command.ts';
import { MergeQueue } from './merge-queue.ts';
import { onClock, RateLimit } from '../rate-limit.ts';
import { systemClock, type Clock } from '../clock.ts';

/** A repository as the effects see it: where changes land and, if configured, its forge. */
export interface EffectRepo {
  name: string;
  targetBranch: string;
  forge?: ForgeConfig;
}

export interface EffectSetOptions {
  repos: readonly EffectRepo[];
  deploy?: DeployCommands;
  /** The task's worktree (made if missing) for rebasing before a merge, or null to merge as the forge has it. */
  worktreeFor(taskId: string, repo: string, branch: string): Promise<string | null>;
  /** Where deploy commands run for a task. */
  cwdFor(taskId: string): Promise<string>;
  fetch?: typeof fetch;
  /** The runtime's clock, once there is one: a rate limit's waits are timers on it. The system clock without. */
  clock?: () => Clock;
  rateLimitBudgetMs?: number;
  deployTimeoutMs?: number;
  /** Runs deploy commands; spawns them unless simulated. */
  runCommand?: typeof runCommand;
  /** Rebases a branch onto its target before its merge; real git unless simulated. */
  rebase?: (worktree: string, branch: string, target: string) => Promise<RebaseOutcome>;
}

/** The journaled side-effectful edges (merge, deploys) with one forge client and one merge queue for the process. */
export class EffectSet {
  readonly forge: ForgeClient;
  readonly queue: MergeQueue;
  readonly #targets: Map<string, string>;

  constructor(private readonly opts: EffectSetOptions) {
    const forges: Record<string, ForgeConfig> = {};
    for (const repo of opts.repos) if (repo.forge) forges[repo.name] = repo.forge;
    const clock = opts.clock ?? (() => systemClock);
    this.forge = new ForgeClient({ repos: forges, fetch: opts.fetch, rateLimit: new RateLimit({ client: 'forge', budgetMs: opts.rateLimitBudgetMs, ...onClock(clock) }) });
    this.queue = new MergeQueue({ forge: this.forge, rebase: opts.rebase });
    this.#targets = new Map(opts.repos.map((r) => [r.name, r.targetBranch]));
  }

  /** The mergePullRequest, deployStaging and deployProduction actors for a runtime. */
  implementations(rt: RuntimeHandle) {
    const { deploy, cwdFor, deployTimeoutMs, runCommand } = this.opts;
    return {
      mergePullRequest: mergeEffect({
        rt,
        queue: this.queue,
        forge: this.forge,
        targetBranchOf: (repo) => this.#targets.get(repo) ?? 'main',
        worktreeFor: (taskId, repo, branch) => this.opts.worktreeFor(taskId, repo, branch),
      }),
      deployStaging: deployEffect({ rt, name: 'deployStaging', commands: deploy, cwdFor, timeoutMs: deployTimeoutMs, runCommand }),
      deployProduction: deployEffect({ rt, name: 'deployProduction', commands: deploy, cwdFor, timeoutMs: deployTimeoutMs, runCommand }),
    };
  }
}
