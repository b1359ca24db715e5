import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig, pipelineFromConfig, stageTimeoutMs } from '../../actors/config/index.ts';
import type { ConfigResult, ConveyorConfig } from '../../actors/config/index.ts';
import { defaultPipeline, validatePipeline } from '../../machines/index.ts';

const examplePath = fileURLToPath(new URL('../../conveyor.config.example.json', import.meta.url));
const repositoriesOnly = { repositories: [{ name: 'web', remote: '/srv/git/web.git' }] };
const allAgents = {
  analyst: { command: ['node', 'analyst.mjs'] },
  developer: { command: ['node', 'developer.mjs'] },
  reviewer: { command: 'node reviewer.mjs' },
  tester: { command: ['node', 'tester.mjs'] },
  deployer: { command: ['deploy'] },
};
/** The least a valid configuration holds: a repository, and an agent for every stage. */
const minimal = { ...repositoriesOnly, agents: allAgents };

/** A stage that needs its agent: which agent, and the hint to declare it agent-less on purpose. */
const needs = (agent: string, ...stages: string[]) =>
  stages.length === 1
    ? `config: agents.${agent}: expected a configured agent "${agent}" (stage ${stages[0]} needs it; set pipeline.stages.${stages[0]}.agent to null to run it with no agent) (got nothing)`
    : `config: agents.${agent}: expected a configured agent "${agent}" (stages ${stages.join(', ')} need it; set pipeline.stages.<stage>.agent to null to run a stage with no agent) (got nothing)`;

const everyStageNeeds = [
  needs('analyst', 'analysis'), needs('developer', 'development'), needs('reviewer', 'review'),
  needs('tester', 'testing'), needs('deployer', 'deploy-staging', 'deploy'),
];

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'conveyor-config-'));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function writeConfig(content: unknown): Promise<string> {
  const path = join(dir, 'conveyor.config.json');
  await writeFile(path, typeof content === 'string' ? content : JSON.stringify(content, null, 2));
  return path;
}

async function load(content: unknown): Promise<ConfigResult> {
  return loadConfig(await writeConfig(content));
}

async function valid(content: unknown): Promise<ConveyorConfig> {
  const result = await load(content);
  if (!result.ok) throw new Error(`expected a valid configuration, got:\n${result.errors.join('\n')}`);
  return result.config;
}

async function errorsOf(content: unknown): Promise<string[]> {
  const result = await load(content);
  if (result.ok) throw new Error('expected the configuration to be rejected');
  return result.errors;
}

describe('loadConfig', () => {
  it('takes a repository’s own webhook secret and refuses a rotation without its end', async () => {
    const repo = { name: 'web', remote: '/srv/git/web.git' };
    const rotating = { secretEnv: 'WEB_HOOK_SECRET', previousSecretEnv: 'WEB_HOOK_SECRET_OLD', previousUntil: '2026-12-31T00:00:00Z' };
    expect((await valid({ ...minimal, repositories: [{ ...repo, webhook: rotating }] })).repositories[0]?.webhook).toEqual(rotating);
    expect(await errorsOf({ ...minimal, repositories: [{ ...repo, webhook: { secretEnv: 'WEB_HOOK_SECRET', previousSecretEnv: 'WEB_HOOK_SECRET_OLD' } }] })).toEqual([
      'config: repositories.0.webhook.previousUntil: expected previousSecretEnv and previousUntil together (a rotation needs its end) (got nothing)',
    ]);
  });

  it('takes an agent kind, "command" by default, a CLI kind with or without its own argv', async () => {
    const config = await valid({ ...minimal, agents: { ...allAgents, analyst: { kind: 'claude-code' }, developer: { kind: 'codex', command: ['codex', 'exec', '--full-auto'] } } });
    expect(config.agents.analyst?.kind).toBe('claude-code');
    expect(config.agents.developer?.command).toEqual(['codex', 'exec', '--full-auto']);
    expect(config.agents.tester?.kind).toBe('command');
  });

  it('refuses an unknown kind, a command agent without its command, and a shell string for a CLI kind', async () => {
    expect(await errorsOf({ ...minimal, agents: { ...allAgents, analyst: { kind: 'aider' }, developer: { timeoutMs: 60_000 }, reviewer: { kind: 'codex', command: 'codex exec' } } })).toEqual([
      'config: agents.analyst.kind: expected one of "command", "claude-code", "codex" (got "aider")',
      'config: agents.developer.command: expected a command (a string or an argv array) for an agent of kind "command" (got nothing)',
      'config: agents.reviewer.command: expected an argv array for an agent of kind "codex" (its prompt and flags are added as arguments) (got "codex exec")',
    ]);
  });

  it('fills in defaults for a minimal configuration', async () => {
    const config = await valid(minimal);
    expect(config.repositories).toEqual([{ name: 'web', remote: '/srv/git/web.git', targetBranch: 'main' }]);
    expect(config.agents.analyst).toEqual({ kind: 'command', command: ['node', 'analyst.mjs'], env: {}, passEnv: [] });
    expect(config.limits).toEqual({
      globalJobs: 4, perRepoJobs: 2, maxRetries: 3, maxJobAttempts: 3, baseBackoffMs: 5000, maxLogBytes: 1048576, rateLimitBudgetMs: 60000,
      perStageJobs: {}, minFreeMemoryMb: 0, prepareTimeoutMs: 1_800_000, effectTimeoutMs: 7_200_000, killGraceMs: 3000,
    });
    expect(config.pipeline).toEqual({ stages: {} });
    expect(config.secrets).toEqual({ apiToken: 'CONVEYOR_API_TOKEN', trackerSecret: 'CONVEYOR_TRACKER_SECRET', forgeSecret: 'CONVEYOR_FORGE_SECRET' });
    expect(config.tracker).toBeUndefined();
  });

  it('accepts the example configuration shipped at the repository root', () => {
    const result = loadConfig(examplePath);
    expect(result.ok ? [] : result.errors).toEqual([]);
    if (!result.ok) return;
    expect(result.config.repositories.map((r) => r.name)).toEqual(['web', 'api']);
    expect(Object.keys(result.config.agents).sort()).toEqual(['analyst', 'deployer', 'developer', 'reviewer', 'tester']);
    expect(result.config.tracker?.defaultRepo).toBe('web');
  });

  it('names the path of a missing file', () => {
    const path = join(dir, 'nowhere', 'conveyor.config.json');
    expect(loadConfig(path)).toEqual({ ok: false, errors: [`config: cannot read ${path}: no such file`] });
  });

  it('names the path, line and column of a trailing comma', async () => {
    const path = await writeConfig('{\n  "repositories": [],\n}\n');
    const result = loadConfig(path);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.errors).toHaveLength(1);
    expect(result.errors[0]).toContain(`config: ${path}: invalid JSON at line 3, column 1`);
  });

  it('locates an unexpected token that the JSON parser does not place', async () => {
    const path = await writeConfig('{\n  "repositories": [\n    { "name": "web", "remote": }\n  ]\n}');
    const result = loadConfig(path);
    expect(result.ok ? [] : result.errors).toEqual([expect.stringMatching(`^config: ${path}: invalid JSON at line 3, column 32: `)]);
  });

  it('reports an unknown key at the top level, listing the known ones', async () => {
    const errors = await errorsOf({ ...minimal, colour: 'blue' });
    expect(errors).toEqual([
      'config: colour: unknown key; expected one of repositories, agents, limits, pipeline, tracker, secrets, notifications, deploy, retention, reconciler, reaper, supervisor (got "blue")',
    ]);
  });

  it('reports unknown keys in nested objects with their full path', async () => {
    const errors = await errorsOf({
      repositories: [minimal.repositories[0], { name: 'api', remote: '/srv/git/api.git', forge: { kind: 'gitea', apiBase: 'https://git.example.com/api/v1', owner: 'acme', repo: 'api', token: 'x' } }],
      limits: { globalJob: 4 },
    });
    expect(errors).toContain('config: repositories.1.forge.token: unknown key; expected one of kind, apiBase, owner, repo, tokenEnv (got "x")');
    expect(errors).toContainEqual(expect.stringMatching(/^config: limits\.globalJob: unknown key; expected one of globalJobs, /));
  });

  it('names the path and the expected type of a wrongly typed value', async () => {
    expect(await errorsOf({ ...minimal, limits: { globalJobs: '4' } })).toEqual(['config: limits.globalJobs: expected a number (got "4")']);
    expect(await errorsOf({ repositories: [{ name: 'web', remote: 7 }], agents: allAgents })).toEqual(['config: repositories.0.remote: expected a string (got 7)']);
    expect(await errorsOf({ ...minimal, agents: { ...allAgents, tester: { command: 3 } } })).toEqual([
      'config: agents.tester.command: expected a string or an array (got 3)',
    ]);
  });

  it('rejects numbers out of range and values of the wrong form', async () => {
    const errors = await errorsOf({
      repositories: [{ name: 'web app', remote: 'srv/git/web.git' }],
      agents: { ...allAgents, developer: { command: ['node', 'developer.mjs'], timeoutMs: 500, env: { CONVEYOR_TOKEN: 'x' } } },
      limits: { maxRetries: 0 },
      tracker: { states: { s1: { group: 'doing', meaning: 'start' } } },
    });
    expect(errors).toEqual([
      'config: repositories.0.name: expected a name of letters, digits, ".", "_" or "-" (got "web app")',
      'config: repositories.0.remote: expected a URL (https://, ssh://, git://, file:// or user@host:path) or an absolute path (got "srv/git/web.git")',
      'config: agents.developer.timeoutMs: expected an integer >= 1000 (got 500)',
      'config: agents.developer.env.CONVEYOR_TOKEN: expected a key that is an environment variable name not starting with CONVEYOR_ (conveyor sets those) (got key "CONVEYOR_TOKEN")',
      'config: limits.maxRetries: expected an integer >= 1 (got 0)',
      'config: tracker.states.s1.group: expected one of "backlog", "unstarted", "started", "completed", "cancelled" (got "doing")',
    ]);
  });

  it('bounds the group-kill grace, naming limits.killGraceMs', async () => {
    expect(await errorsOf({ ...minimal, limits: { killGraceMs: -1 } })).toEqual(['config: limits.killGraceMs: expected an integer >= 0 (got -1)']);
    expect(await errorsOf({ ...minimal, limits: { killGraceMs: 1.5 } })).toEqual(['config: limits.killGraceMs: expected an integer (got 1.5)']);
    expect(await errorsOf({ ...minimal, limits: { killGraceMs: 3_600_000 } })).toEqual(['config: limits.killGraceMs: expected an integer <= 600000 (got 3600000)']);
    expect((await valid({ ...minimal, limits: { killGraceMs: 0 } })).limits.killGraceMs).toBe(0);
  });

  it('rejects a configuration without repositories', async () => {
    expect(await errorsOf({ agents: allAgents })).toEqual(['config: repositories: expected an array (got nothing)']);
    expect(await errorsOf({ repositories: [], agents: allAgents })).toEqual(['config: repositories: expected at least 1 entry (got an empty array)']);
  });

  it('rejects a repository name used twice, pointing at the second', async () => {
    const errors = await errorsOf({ ...minimal, repositories: [...minimal.repositories, { name: 'api', remote: '/a.git' }, { name: 'web', remote: '/b.git' }] });
    expect(errors).toEqual(['config: repositories.2.name: expected a name not already used by repositories.0 (got "web")']);
  });

  it('rejects tracker references to repositories that are not configured', async () => {
    const errors = await errorsOf({ ...minimal, tracker: { defaultRepo: 'shop', projectRepos: { p1: 'web', p2: 'ghost' } } });
    expect(errors).toEqual([
      'config: tracker.defaultRepo: expected a configured repository name (one of: web) (got "shop")',
      'config: tracker.projectRepos.p2: expected a configured repository name (one of: web) (got "ghost")',
    ]);
  });

  it('rejects per-repository limits for repositories that are not configured', async () => {
    expect(await errorsOf({ ...minimal, limits: { perRepoJobs: { web: 2, '*': 1, shop: 1 } } })).toEqual([
      'config: limits.perRepoJobs.shop: expected "*" or a configured repository name (one of: web) (got key "shop")',
    ]);
  });

  it('rejects an override of a stage the pipeline does not have', async () => {
    expect(await errorsOf({ ...minimal, pipeline: { stages: { reviw: { timeoutMs: 60000 } } } })).toEqual([
      'config: pipeline.stages.reviw: expected a stage id of the pipeline (one of: analysis, development, review, testing, deploy-staging, deploy) (got stage "reviw")',
    ]);
  });

  it('says which stage needs an agent that is not configured', async () => {
    const { reviewer: _reviewer, deployer: _deployer, ...someAgents } = allAgents;
    expect(await errorsOf({ ...minimal, agents: someAgents })).toEqual([needs('reviewer', 'review'), needs('deployer', 'deploy-staging', 'deploy')]);
  });

  it('requires the agent a stage override names', async () => {
    expect(await errorsOf({ ...minimal, agents: allAgents, pipeline: { stages: { review: { agent: 'critic' } } } })).toEqual([
      'config: pipeline.stages.review.agent: expected an agent configured under agents, to run stage review (got "critic")',
    ]);
  });

  it('reports every problem together, shape and relations alike', async () => {
    const errors = await errorsOf({
      repositories: [{ name: 'web', remote: '/a.git' }, { name: 'web', remote: '/b.git', branch: 'main' }],
      agents: { developer: { command: ['node', 'developer.mjs'], timeoutMs: 'long' } },
      tracker: { defaultRepo: 'shop' },
      pipeline: { stages: { qa: {} } },
    });
    expect(errors).toEqual([
      'config: repositories.1.branch: unknown key; expected one of name, remote, targetBranch, forge, webhook (got "main")',
      'config: agents.developer.timeoutMs: expected a number (got "long")',
      'config: repositories.1.name: expected a name not already used by repositories.0 (got "web")',
      'config: tracker.defaultRepo: expected a configured repository name (one of: web) (got "shop")',
      'config: pipeline.stages.qa: expected a stage id of the pipeline (one of: analysis, development, review, testing, deploy-staging, deploy) (got stage "qa")',
      needs('analyst', 'analysis'),
      needs('reviewer', 'review'),
      needs('tester', 'testing'),
      needs('deployer', 'deploy-staging', 'deploy'),
    ]);
  });
});

describe('explicit pipelines', () => {
  it('refuses "agents": {}, naming every stage left without an agent, deploys included', async () => {
    expect(await errorsOf({ ...repositoriesOnly, agents: {} })).toEqual(everyStageNeeds);
  });

  it('refuses a configuration with no agents section the same way', async () => {
    expect(await errorsOf(repositoriesOnly)).toEqual(everyStageNeeds);
  });

  it('takes "agent": null as a stage run with no agent on purpose', async () => {
    const stages = Object.fromEntries(defaultPipeline.stages.map((s) => [s.id, { agent: null }]));
    const config = await valid({ ...repositoriesOnly, pipeline: { stages } });
    expect(pipelineFromConfig(config).stages.map((s) => s.agent)).toEqual(defaultPipeline.stages.map(() => null));
  });

  it('refuses only the stages neither configured nor declared agent-less', async () => {
    const { deployer: _deployer, ...someAgents } = allAgents;
    expect(await errorsOf({ ...minimal, agents: someAgents, pipeline: { stages: { deploy: { agent: null } } } })).toEqual([needs('deployer', 'deploy-staging')]);
  });
});

describe('pipelineFromConfig', () => {
  it('is the default pipeline when nothing is overridden', async () => {
    expect(pipelineFromConfig(await valid(minimal))).toEqual(defaultPipeline);
  });

  it('applies stage overrides, limits and the longest configured timeout', async () => {
    const config = await valid({
      ...minimal,
      agents: { ...allAgents, critic: { command: ['critic'], timeoutMs: 900_000 }, developer: { command: ['dev'], timeoutMs: 2_700_000 } },
      limits: { maxRetries: 5, maxJobAttempts: 2, baseBackoffMs: 1000 },
      pipeline: { stages: { review: { agent: 'critic', timeoutMs: 1_200_000 } } },
    });
    const pipeline = pipelineFromConfig(config);
    expect(pipeline.stages.map((s) => `${s.id}:${s.agent}`)).toEqual([
      'analysis:analyst', 'development:developer', 'review:critic', 'testing:tester', 'deploy-staging:deployer', 'deploy:deployer',
    ]);
    expect(pipeline).toMatchObject({ maxRetries: 5, maxJobAttempts: 2, baseBackoffMs: 1000, jobTimeoutMs: 2_700_000 });
    expect(validatePipeline(pipeline)).toEqual([]);
    expect(defaultPipeline.stages[2]?.agent).toBe('reviewer');
    expect(stageTimeoutMs(config, 'review')).toBe(1_200_000);
    expect(stageTimeoutMs(config, 'development')).toBe(2_700_000);
    expect(stageTimeoutMs(config, 'testing')).toBe(2_700_000);
  });

  it('keeps the per-stage timeouts of the example configuration', () => {
    const result = loadConfig(examplePath);
    if (!result.ok) throw new Error(result.errors.join('\n'));
    expect(pipelineFromConfig(result.config).jobTimeoutMs).toBe(2_700_000);
    expect(stageTimeoutMs(result.config, 'review')).toBe(1_200_000);
    expect(stageTimeoutMs(result.config, 'analysis')).toBe(600_000);
  });
});

describe('background sections', () => {
  it('leaves the background sections out unless given, and fills their defaults when they are', async () => {
    const bare = await valid(minimal);
    expect([bare.reconciler, bare.reaper, bare.supervisor]).toEqual([undefined, undefined, undefined]);
    const config = await valid({ ...minimal, reconciler: {}, reaper: { enabled: false }, supervisor: { maxRestarts: 2 } });
    expect(config.reconciler).toEqual({ enabled: true, intervalMs: 30_000, graceMs: 120_000, stageGraceMs: {}, maxProbesPerTick: 50, trackerStatesTtlMs: 300_000, mirrorStates: {} });
    expect(config.reaper).toEqual({ enabled: false, intervalMs: 15_000, finalizeGraceMs: 60_000, lostGraceMs: 30_000 });
    expect(config.supervisor).toEqual({ backoffBaseMs: 1_000, backoffMaxMs: 60_000, windowMs: 600_000, maxRestarts: 2 });
  });

  it('accepts a malformed stage grace override, which the reconciler ignores with a warning instead', async () => {
    const config = await valid({ ...minimal, reconciler: { stageGraceMs: { review: 'soon', nowhere: 5 } } });
    expect(config.reconciler?.stageGraceMs).toEqual({ review: 'soon', nowhere: 5 });
  });

  it('refuses an unknown key and a too short interval in a background section', async () => {
    expect(await errorsOf({ ...minimal, reaper: { intervalMs: 10, ceiling: 1 } })).toEqual(expect.arrayContaining([
      expect.stringMatching(/^config: reaper\.intervalMs: /),
      expect.stringMatching(/^config: reaper\.ceiling: unknown key/),
    ]));
  });
});
