import { isAbsolute } from 'node:path';
import { z } from 'zod';
import { defaultPipeline } from '../../machines/index.ts';

const NAME = /^[a-zA-Z0-9._-]+$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
// The executor sets the CONVEYOR_* names of a job and they win, so configuring one would be silently ignored.
const AGENT_ENV_NAME = /^(?!CONVEYOR_)[A-Za-z_][A-Za-z0-9_]*$/;
const SCP_REMOTE = /^[\w.-]+@[\w.-]+:[^/].*$/;
const REMOTE_PROTOCOLS = new Set(['https:', 'http:', 'ssh:', 'git:', 'file:']);

const name = z.string().regex(NAME, 'a name of letters, digits, ".", "_" or "-"');
const envName = z.string().regex(ENV_NAME, 'an environment variable name (letters, digits and "_", not starting with a digit)');
const httpUrl = z.url({ protocol: /^https?$/ });
const count = z.int().min(1);
const timeoutMs = z.int().min(1000);

function isRemote(value: string): boolean {
  if (isAbsolute(value) || SCP_REMOTE.test(value)) return true;
  try {
    return REMOTE_PROTOCOLS.has(new URL(value).protocol);
  } catch {
    return false;
  }
}

const argv = z.array(z.string().min(1)).min(1);

const forgeSchema = z.strictObject({
  kind: z.enum(['gitea', 'github']),
  apiBase: httpUrl,
  owner: z.string().min(1),
  repo: z.string().min(1),
  tokenEnv: envName.default('FORGE_TOKEN'),
});

// A repository's own webhook secret; during a rotation the previous one is accepted too, until the time given.
const webhookSchema = z
  .strictObject({
    secretEnv: envName,
    previousSecretEnv: envName.optional(),
    previousUntil: z.iso.datetime({ offset: true }).optional(),
  })
  .superRefine((w, ctx) => {
    if ((w.previousSecretEnv === undefined) === (w.previousUntil === undefined)) return;
    const missing = w.previousUntil === undefined ? 'previousUntil' : 'previousSecretEnv';
    ctx.addIssue({ code: 'custom', path: [missing], message: 'previousSecretEnv and previousUntil together (a rotation needs its end)', input: undefined });
  });

const repositorySchema = z.strictObject({
  name,
  remote: z.string().refine(isRemote, 'a URL (https://, ssh://, git://, file:// or user@host:path) or an absolute path'),
  targetBranch: z.string().min(1).default('main'),
  forge: forgeSchema.optional(),
  webhook: webhookSchema.optional(),
});

const agentSchema = z.strictObject({
  /** `command` runs the command as it is; `claude-code` and `codex` drive that CLI with a prompt, read its activity and resume its session. */
  kind: z.enum(['command', 'claude-code', 'codex']).default('command'),
  /** For `command`, what to run; for a CLI kind, the CLI and flags of your own (the kind adds its prompt and output flags), by default `claude` or `codex exec`. */
  command: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).optional(),
  timeoutMs: timeoutMs.optional(),
  env: z
    .record(z.string().regex(AGENT_ENV_NAME, 'an environment variable name not starting with CONVEYOR_ (conveyor sets those)'), z.string())
    .default({}),
  /** Variables copied from conveyor's environment into this agent's, by name: a forge token it must push with, say. */
  passEnv: z.array(envName).default([]),
});

/** The longest grace between SIGTERM and SIGKILL a configuration may give a job's process group. */
export const MAX_KILL_GRACE_MS = 600_000;

const limitsSchema = z.strictObject({
  globalJobs: count.default(4),
  perRepoJobs: z.union([count, z.record(z.string().min(1), count)]).default(2),
  /** At most this many jobs of a stage at once (stage id → count); stages not named have no limit of their own. */
  perStageJobs: z.record(z.string().min(1), count).default({}),
  /** No job starts while the host's free memory is under this many MiB (0: no floor). */
  minFreeMemoryMb: count.default(0),
  maxRetries: count.default(3),
  maxJobAttempts: count.default(3),
  baseBackoffMs: count.default(5_000),
  maxLogBytes: count.default(1_048_576),
  /** What a task may spend on its agents, in US dollars as the agent CLIs report it; past it the task is held with an alert. */
  taskBudgetUsd: z.number().positive().optional(),
  /** The longest one tracker or forge call waits out 429 / Retry-After before it fails. */
  rateLimitBudgetMs: count.default(60_000),
  prepareTimeoutMs: timeoutMs.default(defaultPipeline.prepareTimeoutMs),
  effectTimeoutMs: timeoutMs.default(defaultPipeline.effectTimeoutMs),
  // Between SIGTERM and SIGKILL when a job's process group is killed. A job's slot is held until its group is gone,
  // so the grace is bounded: a helper that ignores SIGTERM must not keep a slot for longer than ten minutes.
  killGraceMs: z.int().min(0).max(MAX_KILL_GRACE_MS).default(3_000),
});

// `agent: null` runs the stage with no agent on purpose (its work is a human's or a webhook's); leaving it out means the default agent.
const stageOverrideSchema = z.strictObject({ agent: name.nullable().optional(), timeoutMs: timeoutMs.optional() });

const trackerStateSchema = z.strictObject({
  group: z.enum(['backlog', 'unstarted', 'started', 'completed', 'cancelled']),
  meaning: z.enum(['start', 'approved', 'rejected', 'blocked', 'needs_input', 'done', 'cancelled', 'other']),
  name: z.string().min(1).optional(),
});

const trackerSchema = z.strictObject({
  states: z.record(z.string().min(1), trackerStateSchema).optional(),
  projectRepos: z.record(z.string().min(1), name).default({}),
  defaultRepo: name.optional(),
  apiBase: httpUrl.optional(),
  workspace: z.string().min(1).optional(),
  tokenEnv: envName.default('PLANE_TOKEN'),
});

const secretsSchema = z.strictObject({
  apiToken: envName.default('CONVEYOR_API_TOKEN'),
  trackerSecret: envName.default('CONVEYOR_TRACKER_SECRET'),
  forgeSecret: envName.default('CONVEYOR_FORGE_SECRET'),
});

// Each background loop can be switched off, and sweeps once per interval.
const loopFields = (intervalMs: number) => ({ enabled: z.boolean().default(true), intervalMs: z.int().min(100).default(intervalMs) });

const reconcilerSchema = z.strictObject({
  ...loopFields(30_000),
  graceMs: z.int().min(0).default(120_000),
  // Checked when the reconciler starts: a bad override is ignored with a warning, never a refusal to start.
  stageGraceMs: z.record(z.string(), z.unknown()).default({}),
  maxProbesPerTick: count.default(50),
  trackerStatesTtlMs: z.int().min(0).default(300_000),
  // stage (or done, cancelled, onHold, escalated) → the tracker state id an issue is set to on entering it.
  mirrorStates: z.record(z.string().min(1), z.string().min(1)).default({}),
});

const reaperSchema = z.strictObject({
  ...loopFields(15_000),
  finalizeGraceMs: z.int().min(0).default(60_000),
  lostGraceMs: z.int().min(0).default(30_000),
  hardCeilingMs: timeoutMs.optional(),
});

const supervisorSchema = z.strictObject({
  backoffBaseMs: count.default(1_000),
  backoffMaxMs: count.default(60_000),
  windowMs: count.default(600_000),
  maxRestarts: count.default(5),
});

/** A relation between fields that does not hold: where, what was expected, and what was there. */
export interface CrossFieldIssue {
  path: (string | number)[];
  expected: string;
  got: string;
}

type Obj = Record<string, unknown>;
const obj = (value: unknown): Obj | undefined =>
  typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Obj) : undefined;
const quoted = (value: unknown): string => JSON.stringify(value) ?? String(value);

/**
 * Checks that relate one field to another. It reads its input defensively, so it also runs on a configuration
 * whose shape is wrong elsewhere, and all problems are reported together.
 */
export function crossFieldIssues(input: unknown): CrossFieldIssue[] {
  const issues: CrossFieldIssue[] = [];
  const config = obj(input) ?? {};
  const repos = Array.isArray(config.repositories) ? config.repositories.map((r) => obj(r)?.name) : [];
  const firstIndex = new Map<unknown, number>();
  repos.forEach((repoName, i) => {
    const first = firstIndex.get(repoName);
    if (typeof repoName === 'string' && first !== undefined) {
      issues.push({ path: ['repositories', i, 'name'], expected: `a name not already used by repositories.${first}`, got: quoted(repoName) });
    }
    if (first === undefined) firstIndex.set(repoName, i);
  });
  // References are checked only when every repository has a name; otherwise they would be blamed for another mistake.
  if (repos.length > 0 && repos.every((r) => typeof r === 'string')) {
    const known = `a configured repository name (one of: ${[...new Set(repos)].join(', ')})`;
    const tracker = obj(config.tracker) ?? {};
    if (typeof tracker.defaultRepo === 'string' && !repos.includes(tracker.defaultRepo)) {
      issues.push({ path: ['tracker', 'defaultRepo'], expected: known, got: quoted(tracker.defaultRepo) });
    }
    for (const [project, repo] of Object.entries(obj(tracker.projectRepos) ?? {})) {
      if (typeof repo === 'string' && !repos.includes(repo)) issues.push({ path: ['tracker', 'projectRepos', project], expected: known, got: quoted(repo) });
    }
    for (const repo of Object.keys(obj(obj(config.limits)?.perRepoJobs) ?? {})) {
      if (repo !== '*' && !repos.includes(repo)) issues.push({ path: ['limits', 'perRepoJobs', repo], expected: `"*" or ${known}`, got: `key ${quoted(repo)}` });
    }
  }
  const tracker = obj(config.tracker);
  if (tracker?.apiBase !== undefined && tracker.workspace === undefined) {
    issues.push({ path: ['tracker', 'workspace'], expected: 'a workspace slug, needed when tracker.apiBase is set', got: 'nothing' });
  }
  issues.push(...secretPassIssues(config), ...agentKindIssues(config));
  const overrides = obj(obj(config.pipeline)?.stages) ?? {};
  const stageIds = defaultPipeline.stages.map((s) => s.id);
  for (const id of Object.keys(obj(obj(config.limits)?.perStageJobs) ?? {})) {
    if (!stageIds.includes(id)) issues.push({ path: ['limits', 'perStageJobs', id], expected: `a stage id of the pipeline (one of: ${stageIds.join(', ')})`, got: `key ${quoted(id)}` });
  }
  for (const id of Object.keys(overrides)) {
    if (!stageIds.includes(id)) issues.push({ path: ['pipeline', 'stages', id], expected: `a stage id of the pipeline (one of: ${stageIds.join(', ')})`, got: `stage ${quoted(id)}` });
  }
  // Every stage names its agent or says `null` on purpose: an empty agents section runs no deploy silently.
  const agents = obj(config.agents) ?? {};
  const missing = new Map<string, string[]>();
  for (const stage of defaultPipeline.stages) {
    const override = obj(overrides[stage.id])?.agent;
    if (override === null || stage.agent === null) continue;
    if (typeof override === 'string') {
      if (!Object.hasOwn(agents, override)) {
        issues.push({ path: ['pipeline', 'stages', stage.id, 'agent'], expected: `an agent configured under agents, to run stage ${stage.id}`, got: quoted(override) });
      }
    } else if (!Object.hasOwn(agents, stage.agent)) {
      missing.set(stage.agent, [...(missing.get(stage.agent) ?? []), stage.id]);
    }
  }
  for (const [agent, stages] of missing) {
    const which = stages.length === 1
      ? `stage ${stages[0]} needs it; set pipeline.stages.${stages[0]}.agent to null to run it with no agent`
      : `stages ${stages.join(', ')} need it; set pipeline.stages.<stage>.agent to null to run a stage with no agent`;
    issues.push({ path: ['agents', agent], expected: `a configured agent "${agent}" (${which})`, got: 'nothing' });
  }
  return issues;
}

/** A command agent needs its command; a CLI kind takes its command as an argv, to which it adds its own arguments. */
function agentKindIssues(config: Obj): CrossFieldIssue[] {
  const issues: CrossFieldIssue[] = [];
  for (const [agent, value] of Object.entries(obj(config.agents) ?? {})) {
    const setup = obj(value);
    if (!setup) continue;
    const kind = setup.kind ?? 'command';
    if (kind === 'command' && setup.command === undefined) issues.push({ path: ['agents', agent, 'command'], expected: 'a command (a string or an argv array) for an agent of kind "command"', got: 'nothing' });
    if (kind !== 'command' && typeof setup.command === 'string') {
      issues.push({ path: ['agents', agent, 'command'], expected: `an argv array for an agent of kind ${quoted(kind)} (its prompt and flags are added as arguments)`, got: quoted(setup.command) });
    }
  }
  return issues;
}

const SECRET_DEFAULTS: Record<string, string> = { apiToken: 'CONVEYOR_API_TOKEN', trackerSecret: 'CONVEYOR_TRACKER_SECRET', forgeSecret: 'CONVEYOR_FORGE_SECRET' };

/** conveyor's own secrets (API token, webhook secrets) can never be handed to an agent or a deploy command. */
function secretPassIssues(config: Obj): CrossFieldIssue[] {
  const configured = obj(config.secrets) ?? {};
  const secretNames = new Set(Object.entries(SECRET_DEFAULTS).map(([key, fallback]) => (typeof configured[key] === 'string' ? configured[key] : fallback)));
  for (const repo of Array.isArray(config.repositories) ? config.repositories : []) {
    const webhook = obj(obj(repo)?.webhook);
    for (const key of ['secretEnv', 'previousSecretEnv']) if (typeof webhook?.[key] === 'string') secretNames.add(webhook[key]);
  }
  const issues: CrossFieldIssue[] = [];
  const check = (path: (string | number)[], names: unknown) => {
    if (!Array.isArray(names)) return;
    names.forEach((n, i) => {
      if (typeof n === 'string' && secretNames.has(n)) issues.push({ path: [...path, i], expected: "a variable that is not one of conveyor's own secrets", got: quoted(n) });
    });
  };
  for (const [agent, setup] of Object.entries(obj(config.agents) ?? {})) check(['agents', agent, 'passEnv'], obj(setup)?.passEnv);
  check(['deploy', 'passEnv'], obj(config.deploy)?.passEnv);
  return issues;
}

/** The shape of conveyor.config.json alone, without the checks that relate one field to another. */
export const configShapeSchema = z.strictObject({
  repositories: z.array(repositorySchema).min(1),
  agents: z.record(name, agentSchema).default({}),
  limits: limitsSchema.prefault({}),
  pipeline: z.strictObject({ stages: z.record(z.string(), stageOverrideSchema).default({}) }).prefault({}),
  tracker: trackerSchema.optional(),
  secrets: secretsSchema.prefault({}),
  notifications: z.strictObject({
    webhookUrl: httpUrl.optional(),
    /** One progress comment per stage on the tracker issue, and one on the pull request, edited in place. */
    progressComments: z.boolean().default(true),
    progressIntervalMs: count.default(15_000),
  }).optional(),
  /** Deploy command lines (argv), run in the task's worktree; without one an environment's deploy is skipped. */
  deploy: z
    .strictObject({
      staging: argv.optional(),
      production: argv.optional(),
      check: argv.optional(),
      // The commands get the allowlisted environment and these; nothing else of conveyor's.
      env: z.record(envName, z.string()).default({}),
      passEnv: z.array(envName).default([]),
    })
    .optional(),
  /** Finished tasks older than archiveAfterMs move to the archive; delivery keys older than deliveryWindowMs are forgotten. */
  retention: z
    .strictObject({ archiveAfterMs: z.int().min(0).default(30 * 86_400_000), deliveryWindowMs: z.int().min(600_000).default(7 * 86_400_000), intervalMs: z.int().min(1000).default(3_600_000) })
    .prefault({}),
  reconciler: reconcilerSchema.optional(),
  reaper: reaperSchema.optional(),
  supervisor: supervisorSchema.optional(),
});

/** Issues added by the cross-field check carry this marker, so a caller can tell whether the check ran. */
export const CROSS_FIELD = 'conveyor.cross-field';

/** conveyor.config.json: its shape, defaults, and the checks that relate fields (names referenced exist, stages are known). */
export const configSchema = configShapeSchema.superRefine((config, ctx) => {
  for (const issue of crossFieldIssues(config)) {
    ctx.addIssue({ code: 'custom', path: issue.path, message: issue.expected, input: undefined, params: { [CROSS_FIELD]: issue.got } });
  }
});

/** A valid configuration with defaults applied. */
export type ConveyorConfig = z.infer<typeof configSchema>;
/** One entry of `repositories`. */
export type RepositoryConfig = ConveyorConfig['repositories'][number];
/** One entry of `agents`. */
export type AgentConfig = ConveyorConfig['agents'][string];
/** The `limits` block with defaults applied. */
export type LimitsConfig = ConveyorConfig['limits'];
/** The `tracker` block with defaults applied. */
export type TrackerConfig = NonNullable<ConveyorConfig['tracker']>;
