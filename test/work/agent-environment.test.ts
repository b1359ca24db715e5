import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createActor } from 'xstate';
import { Conveyor, deployEffect, parseConfig, Workbench, workbenchOptionsFromConfig, type ConveyorConfig } from '../../actors/index.ts';
import { EmbeddedStore } from '../../store/index.ts';
import { createRemote, isolateGitConfig, makeTempDir } from '../git/fixtures.ts';
import { effectInput, RecordingRuntime, tempStore } from '../support/effects-runtime.ts';
import { waitForState } from '../support/http-fixtures.ts';

// Everything conveyor may hold in its own environment that an agent must never see.
const SECRETS: Record<string, string> = {
  CONVEYOR_API_TOKEN: 'secret-api-token',
  CONVEYOR_TRACKER_SECRET: 'secret-tracker-hmac',
  CONVEYOR_FORGE_SECRET: 'secret-forge-hmac',
  SHOP_WEBHOOK_SECRET: 'secret-repo-hmac',
  GITEA_TOKEN: 'secret-gitea-token',
  PLANE_TOKEN: 'secret-plane-token',
  AWS_SECRET_ACCESS_KEY: 'secret-aws-key',
};
const node = process.execPath;
const dumpEnv = (file: string) => [node, '-e', `require('node:fs').writeFileSync(${JSON.stringify(file)}, JSON.stringify(process.env))`];
const readEnv = async (file: string) => JSON.parse(await readFile(file, 'utf8')) as Record<string, string>;

function expectNoSecret(env: Record<string, string>): void {
  for (const [name, value] of Object.entries(SECRETS)) {
    expect(env, `${name} was passed`).not.toHaveProperty(name);
    expect(Object.values(env), `the value of ${name} was passed under another name`).not.toContain(value);
  }
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  vi.unstubAllEnvs();
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function stubSecrets(): void {
  for (const [name, value] of Object.entries(SECRETS)) vi.stubEnv(name, value);
  vi.stubEnv('PUSH_TOKEN', 'push-token-named-in-config');
  vi.stubEnv('DEPLOY_KEY', 'deploy-key-named-in-config');
}

function config(remote: string, envFile: string): ConveyorConfig {
  const parsed = parseConfig({
    repositories: [{
      name: 'shop', remote,
      forge: { kind: 'gitea', apiBase: 'http://127.0.0.1:9/api/v1', owner: 'acme', repo: 'shop', tokenEnv: 'GITEA_TOKEN' },
      webhook: { secretEnv: 'SHOP_WEBHOOK_SECRET' },
    }],
    agents: {
      analyst: { command: dumpEnv(envFile), env: { MODEL: 'large' }, passEnv: ['PUSH_TOKEN'] },
      ...Object.fromEntries(['developer', 'reviewer', 'tester', 'deployer'].map((agent) => [agent, { command: 'true' }])),
    },
    tracker: { apiBase: 'http://127.0.0.1:9/api/v1', workspace: 'acme', tokenEnv: 'PLANE_TOKEN' },
    deploy: { staging: dumpEnv(envFile), passEnv: ['DEPLOY_KEY'], env: { REGION: 'eu-west-1' } },
  });
  if (!parsed.ok) throw new Error(parsed.errors.join('\n'));
  return parsed.config;
}

describe('the environment of agents and deploy commands', () => {
  it('holds the allowlist, the agent’s configured variables and its job’s names, and none of conveyor’s secrets', async () => {
    stubSecrets();
    cleanups.push(isolateGitConfig());
    const tmp = await makeTempDir('conveyor-agent-env-');
    cleanups.push(tmp.cleanup);
    const remote = (await createRemote(tmp.path)).path;
    const envFile = join(tmp.path, 'agent-env.json');
    const options = workbenchOptionsFromConfig(config(remote, envFile), join(tmp.path, 'data'), process.env);
    const conveyor = new Conveyor({ store: new EmbeddedStore({ dir: join(tmp.path, 'store') }), workbench: new Workbench(options) });
    await conveyor.start();
    cleanups.push(() => conveyor.stop());

    const { taskId } = await conveyor.createTask({ repo: 'shop', title: 'Add search' }, { source: 'operator' });
    // Generous: git worktrees and a child process on a busy machine.
    await waitForState(conveyor, taskId, 'analysis.gating', 30_000);
    const env = await readEnv(envFile);

    expectNoSecret(env);
    expect(env).toMatchObject({ PATH: process.env.PATH, MODEL: 'large', PUSH_TOKEN: 'push-token-named-in-config', CONVEYOR_TASK_ID: taskId, CONVEYOR_STAGE: 'analysis' });
    expect(env.CONVEYOR_TOKEN).toMatch(/^cvj_/);
    expect(env).not.toHaveProperty('DEPLOY_KEY');
  }, 60_000);

  it('gives a deploy command only the allowlist, its configured variables and the effect’s names', async () => {
    stubSecrets();
    const h = await tempStore('conveyor-deploy-env-');
    cleanups.push(h.cleanup);
    const envFile = join(h.dir, 'deploy-env.json');
    const { deploy } = workbenchOptionsFromConfig(config('/nowhere.git', envFile), h.dir, process.env);
    const rt = new RecordingRuntime(h.store, 'boot-1');
    const input = effectInput({ effect: 'deployStaging', key: 't1:deployStaging:e0:v1:a1' });
    createActor(deployEffect({ rt, name: 'deployStaging', commands: deploy, cwdFor: async () => h.dir }), { input }).start();
    await vi.waitFor(() => expect(rt.sent).toHaveLength(1), { timeout: 10_000 });
    const env = await readEnv(envFile);

    expectNoSecret(env);
    expect(env).toMatchObject({ PATH: process.env.PATH, REGION: 'eu-west-1', DEPLOY_KEY: 'deploy-key-named-in-config', CONVEYOR_ENVIRONMENT: 'staging' });
    expect(env).not.toHaveProperty('PUSH_TOKEN');
  });

  it('refuses a configuration that hands one of conveyor’s own secrets to an agent or a deploy', () => {
    const parsed = parseConfig({
      repositories: [{ name: 'shop', remote: '/srv/shop.git', webhook: { secretEnv: 'SHOP_WEBHOOK_SECRET' } }],
      agents: { analyst: { command: 'true', passEnv: ['CONVEYOR_API_TOKEN'] } },
      deploy: { passEnv: ['SHOP_WEBHOOK_SECRET'] },
    });
    expect(parsed.ok).toBe(false);
    const errors = parsed.ok ? [] : parsed.errors;
    expect(errors.some((e) => e.startsWith('config: agents.analyst.passEnv.0:') && e.includes('CONVEYOR_API_TOKEN'))).toBe(true);
    expect(errors.some((e) => e.startsWith('config: deploy.passEnv.0:') && e.includes('SHOP_WEBHOOK_SECRET'))).toBe(true);
  });
});
