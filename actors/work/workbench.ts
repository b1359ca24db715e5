import { freemem } from 'node:os';
import { join } from 'node:path';
import { systemClock, type Clock } from '../clock.ts';
import { EffectSet, type DeployCommands, type ForgeConfig } from '../effects/index.ts';
import type { Executor, RunningJob } from '../executors/index.ts';
import { ActivityFeed, activityPathFor, readActivity, type ActivityRecord, type AgentKind } from '../agents/index.ts';
import type { RepoSpec } from '../git/index.ts';
import { instantImplementations } from '../instant-implementations.ts';
import type { Runtime } from '../runtime.ts';
import { Scheduler } from '../scheduler.ts';
import { timerActor } from '../timer-actor.ts';
import type { Implementations } from '../types.ts';
import { Dependencies } from './dependencies.ts';
import { JobTokens } from './job-tokens.ts';
import { Finalizers } from '../background/finalizers.ts';
import { prepareStageActor } from './prepare-stage.ts';
import { realGit, type GitWorkbench } from './git-workbench.ts';
import type { World } from '../world.ts';
import { nodeFileSystem } from '../../store/index.ts';
import { runAgentActor } from './run-agent.ts';
import { tellSession, type RunningInput } from './session-input.ts';

export interface AgentSetup {
  executor: Executor;
  /** A known CLI (Claude Code, Codex): jobs get a prompt, resume their session, and their output becomes activity. */
  kind?: AgentKind;
  timeoutMs?: number;
  env?: Record<string, string>;
}

/** A repository conveyor works on, with its forge when merges go through one. */
export type WorkbenchRepo = RepoSpec & { forge?: ForgeConfig };

export interface WorkbenchOptions {
  dataDir: string;
  repos?: WorkbenchRepo[];
  /** Deploy command lines (argv); without one an environment's deploy completes at once as skipped. */
  deploy?: DeployCommands;
  agents?: Record<string, AgentSetup>;
  limits?: { globalJobs: number; perRepoJobs: number | Record<string, number>; perStageJobs?: Record<string, number>; minFreeMemoryBytes?: number };
  /** The host's free memory in bytes; os.freemem unless given (tests set it). */
  freeMemory?: () => number;
  /** How often jobs held by the memory floor look again (default 5 s). */
  memoryRecheckMs?: number;
  defaultTimeoutMs?: number;
  /** The longest one forge call waits out 429 / Retry-After. */
  rateLimitBudgetMs?: number;
  /** What a task may spend on its agents (US dollars, as their CLIs report it); no limit when absent. */
  taskBudgetUsd?: number;
  /** Where agents reach conveyor's API; known once the server listens. */
  apiBase?: () => string;
  /** The world the workbench touches: files, git, deploy commands, the forge's HTTP, token randomness. Real unless given. */
  world?: Partial<Pick<World, 'fs' | 'git' | 'runCommand' | 'fetch' | 'randomBytes'>>;
}

/**
 * Where agents work: the scheduler's slots, the tasks' git worktrees, job tokens and dependencies.
 * Supplies the runtime with the prepareStage and runAgent actors and follows committed transitions.
 */
export class Workbench {
  readonly scheduler: Scheduler;
  readonly tokens: JobTokens;
  readonly finalizers = new Finalizers();
  /** What running jobs do, as their activity logs record it. */
  readonly activity = new ActivityFeed();
  readonly git: GitWorkbench;
  private readonly fs: World['fs'];
  dependencies: Dependencies | null = null;
  private readonly launches = new Map<string, () => void>();
  private clock: Clock = systemClock;
  private memoryTimer: unknown = null;
  private readonly live = new Map<string, RunningJob>();
  /** Running sessions that take input, by task. */
  private readonly inputs = new Map<string, RunningInput>();
  private readonly repos: Map<string, RepoSpec>;
  /** The journaled merge and deploys, with the forge client and the per-repository merge queue. */
  readonly effects: EffectSet;

  constructor(private readonly opts: WorkbenchOptions) {
    this.repos = new Map((opts.repos ?? []).map((r) => [r.name, r]));
    const world = opts.world ?? {};
    this.fs = world.fs ?? nodeFileSystem;
    this.git = world.git ?? realGit(opts.dataDir);
    this.tokens = new JobTokens(world.randomBytes);
    this.effects = new EffectSet({
      repos: opts.repos ?? [],
      deploy: opts.deploy,
      worktreeFor: (taskId, repo, branch) => this.mergeWorktree(taskId, repo, branch),
      cwdFor: async (taskId) => (await this.fs.exists(this.workdirFor(taskId))) ? this.workdirFor(taskId) : opts.dataDir,
      fetch: world.fetch,
      clock: () => this.clock,
      rateLimitBudgetMs: opts.rateLimitBudgetMs,
      runCommand: world.runCommand,
      rebase: (worktree, branch, target) => this.git.rebaseOntoTarget(worktree, branch, target),
    });
    this.scheduler = new Scheduler({
      globalLimit: opts.limits?.globalJobs ?? 4,
      perRepoLimit: opts.limits?.perRepoJobs ?? 2,
      perStageLimit: opts.limits?.perStageJobs ?? {},
      memory: { free: opts.freeMemory ?? freemem, floorBytes: opts.limits?.minFreeMemoryBytes ?? 0 },
      onMemoryHold: () => this.recheckMemoryLater(),
      isRunnable: (taskId) => this.dependencies?.isRunnable(taskId) ?? true,
      onGrant: (req) => this.launches.get(req.jobId)?.(),
    });
  }

  /** Free memory is not an event: while it holds jobs back, the scheduler is asked again on a timer. */
  private recheckMemoryLater(): void {
    if (this.memoryTimer !== null) return;
    this.memoryTimer = this.clock.setTimeout(() => {
      this.memoryTimer = null;
      this.scheduler.reconsider();
    }, this.opts.memoryRecheckMs ?? 5_000);
  }

  workdirFor(taskId: string): string {
    return join(this.opts.dataDir, 'worktrees', taskId);
  }

  logPathFor(jobId: string): string {
    return join(this.opts.dataDir, 'logs', `${jobId}.log`);
  }

  /** A job's activity records, in order; none for a job that has no activity log. */
  activityOf(logPath: string): Promise<ActivityRecord[]> {
    return readActivity(this.fs, activityPathFor(logPath));
  }

  readonly implementations: Implementations = (rt) => ({
    ...instantImplementations(rt),
    timer: timerActor(rt),
    prepareStage: prepareStageActor({ rt, git: this.git, fs: this.fs, repoFor: (n) => this.repos.get(n), workdirFor: (id) => this.workdirFor(id) }),
    runAgent: runAgentActor({
      rt,
      scheduler: this.scheduler,
      launches: this.launches,
      live: this.live,
      tokens: this.tokens,
      finalizers: this.finalizers,
      executorFor: (agent) => this.opts.agents?.[agent]?.executor ?? null,
      timeoutFor: (agent) => this.opts.agents?.[agent]?.timeoutMs ?? this.opts.defaultTimeoutMs ?? 30 * 60_000,
      envFor: (agent) => this.opts.agents?.[agent]?.env ?? {},
      workdirFor: (id) => this.workdirFor(id),
      logPathFor: (id) => this.logPathFor(id),
      apiBase: () => this.opts.apiBase?.() ?? '',
      fs: this.fs,
      kindFor: (agent) => this.opts.agents?.[agent]?.kind ?? null,
      activity: this.activity,
      inputs: this.inputs,
      taskBudgetUsd: this.opts.taskBudgetUsd ?? null,
      // The alert first: a human who sees the escalation finds what it spent beside it.
      budgetExceeded: async (taskId, reason) => {
        const at = rt.clock.now();
        await rt.write([{ kind: 'put', collection: 'alerts', id: `budget:${taskId}:${at}`, value: { kind: 'budget_exceeded', at, taskId, reason } }]);
        await rt.send(taskId, { type: 'budget.exceeded', reason }, { source: 'runtime' });
      },
    }),
    ...this.effects.implementations(rt),
  });

  /** The task's worktree to rebase in before its merge; null (merge as the forge has it) when the repository is not configured. */
  private async mergeWorktree(taskId: string, repo: string, branch: string): Promise<string | null> {
    const spec = this.repos.get(repo);
    if (!spec) return null;
    const ensured = await this.git.ensureWorktree(spec, taskId, branch);
    if (!ensured.ok) throw new Error(ensured.reason);
    return ensured.path;
  }

  /** Whether conveyor keeps worktrees of this repository (else a task works in a plain directory). */
  hasRepo(name: string): boolean {
    return this.repos.has(name);
  }

  /** At start, before any task runs: each repository is cleared of what a killed git left (stale locks, half-made worktrees). */
  async repair(): Promise<void> {
    for (const repo of this.repos.values()) await this.git.repair?.(repo);
  }

  /** Follows the runtime: releases dependents of done tasks, removes worktrees of finished ones. */
  attach(runtime: Runtime): void {
    this.clock = runtime.clock;
    const deps = new Dependencies(runtime, this.scheduler);
    deps.load();
    this.dependencies = deps;
    runtime.onCommitted((t) => {
      deps.onCommitted(t);
      // Words for a task whose agent is running and takes input go into its session at once.
      const running = t.event.type === 'task.steer' ? this.inputs.get(t.taskId) : undefined;
      if (running && t.event.type === 'task.steer') void tellSession(this.fs, running, t.event);
      if (t.to !== 'done' && t.to !== 'cancelled') return;
      const repo = this.repos.get(runtime.meta(t.taskId)?.repo ?? '');
      // Kept on escalation for inspection; removed once the task is finished either way.
      if (repo) void this.git.removeWorktree(repo, t.taskId).catch(() => undefined);
    });
  }
}
