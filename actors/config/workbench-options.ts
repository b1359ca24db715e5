import { agentKinds, KindExecutor } from '../agents/index.ts';
import { CommandExecutor, passedEnvironment } from '../executors/index.ts';
import type { AgentSetup, WorkbenchOptions } from '../work/index.ts';
import type { ConveyorConfig } from './schema.ts';

/** What the workbench needs from a validated configuration: repositories with their forges, command agents, deploys, limits. */
export function workbenchOptionsFromConfig(config: ConveyorConfig, dataDir: string, env: Record<string, string | undefined> = {}): WorkbenchOptions {
  const agents: Record<string, AgentSetup> = {};
  for (const [name, agent] of Object.entries(config.agents)) {
    const kind = agent.kind === 'command' ? null : agentKinds[agent.kind];
    agents[name] = {
      executor: kind
        ? new KindExecutor({ kind, command: Array.isArray(agent.command) ? agent.command : undefined, maxLogBytes: config.limits.maxLogBytes, killGraceMs: config.limits.killGraceMs })
        : new CommandExecutor({ command: agent.command ?? [], maxLogBytes: config.limits.maxLogBytes, killGraceMs: config.limits.killGraceMs }),
      ...(kind ? { kind } : {}),
      timeoutMs: agent.timeoutMs,
      // Named variables come from conveyor's environment at start; the configured values win over them.
      env: { ...passedEnvironment(agent.passEnv, env), ...agent.env },
    };
  }
  return {
    dataDir,
    repos: config.repositories.map((r) => ({
      name: r.name,
      remote: r.remote,
      targetBranch: r.targetBranch,
      ...(r.forge ? { forge: { kind: r.forge.kind, apiBase: r.forge.apiBase, owner: r.forge.owner, repo: r.forge.repo, token: env[r.forge.tokenEnv] ?? '' } } : {}),
    })),
    deploy: config.deploy && { ...config.deploy, env: { ...passedEnvironment(config.deploy.passEnv, env), ...config.deploy.env } },
    agents,
    ...(config.limits.taskBudgetUsd === undefined ? {} : { taskBudgetUsd: config.limits.taskBudgetUsd }),
    limits: {
      globalJobs: config.limits.globalJobs, perRepoJobs: config.limits.perRepoJobs,
      perStageJobs: config.limits.perStageJobs, minFreeMemoryBytes: config.limits.minFreeMemoryMb * 1024 * 1024,
    },
    rateLimitBudgetMs: config.limits.rateLimitBudgetMs,
  };
}
