import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createActor } from 'xstate';
import { deployEffect, type DeployCommands, type EffectRecord } from '../../actors/index.ts';
import { effectInput, RecordingRuntime, tempStore } from '../support/effects-runtime.ts';

type Handle = Awaited<ReturnType<typeof tempStore>>;
const handles: Handle[] = [];
afterEach(async () => {
  for (const h of handles.splice(0)) await h.cleanup();
});

const node = process.execPath;
const input = effectInput({ effect: 'deployStaging', key: 't1:deployStaging:e0:v6:a1' });

async function deploy(commands: DeployCommands | undefined, seed?: EffectRecord) {
  const h = await tempStore('conveyor-deploy-');
  handles.push(h);
  const rt = new RecordingRuntime(h.store, 'boot-2');
  if (seed) await rt.write([{ kind: 'put', collection: 'effects', id: seed.key, value: seed }]);
  createActor(deployEffect({ rt, name: 'deployStaging', commands, cwdFor: async () => h.dir }), { input }).start();
  await vi.waitFor(() => expect(rt.sent).toHaveLength(1), { timeout: 10_000 });
  return { rt, dir: h.dir, event: rt.sent[0]!.event, record: rt.read<EffectRecord>('effects', input.key) };
}

const writes = (file: string, text: string) => [node, '-e', `require('node:fs').writeFileSync(${JSON.stringify(file)}, ${text})`];
const exists = (path: string) => stat(path).then(() => true, () => false);

describe('deployEffect', () => {
  it('completes at once as skipped, journaled, when no command is configured', async () => {
    const { event, record } = await deploy({ production: ['true'] });
    expect(event).toEqual({ type: 'effect.done', effect: 'deployStaging', result: { environment: 'staging', skipped: true } });
    expect(record).toMatchObject({ status: 'completed', result: { environment: 'staging', skipped: true } });
  });

  it('runs the environment’s command in the task’s directory with the task, key and head in its environment', async () => {
    const h = await tempStore('conveyor-deploy-out-');
    handles.push(h);
    const out = join(h.dir, 'deployed.json');
    const env = 'JSON.stringify({ cwd: process.cwd(), task: process.env.CONVEYOR_TASK_ID, key: process.env.CONVEYOR_EFFECT_KEY, env: process.env.CONVEYOR_ENVIRONMENT, sha: process.env.CONVEYOR_SHA })';
    const { event, dir } = await deploy({ staging: writes(out, env) });
    expect(event).toMatchObject({ type: 'effect.done', effect: 'deployStaging', result: { environment: 'staging', exitCode: 0 } });
    expect(JSON.parse(await readFile(out, 'utf8'))).toEqual({ cwd: dir, task: 't1', key: input.key, env: 'staging', sha: input.head!.sha });
  });

  it('reports a failing command as retriable and one that cannot start as final', async () => {
    const failing = await deploy({ staging: [node, '-e', 'console.error("rollout stalled"); process.exit(3)'] });
    expect(failing.event).toEqual({ type: 'effect.failed', effect: 'deployStaging', error: 'deploy: staging: exited with code 3: rollout stalled', retriable: true });
    const missing = await deploy({ staging: ['/nonexistent/deploy-tool'] });
    expect(missing.event).toMatchObject({ type: 'effect.failed', effect: 'deployStaging', retriable: false });
  });

  it('asks the check command about a deploy an earlier boot started, and does not deploy again when it passed', async () => {
    const h = await tempStore('conveyor-deploy-marker-');
    handles.push(h);
    const marker = join(h.dir, 'deployed-again');
    const started: EffectRecord = { status: 'started', key: input.key, taskId: 't1', effect: 'deployStaging', bootId: 'boot-1', startedAt: 1 };
    const { event, record } = await deploy({ staging: writes(marker, '"x"'), check: [node, '-e', 'process.exit(process.env.CONVEYOR_ENVIRONMENT === "staging" ? 0 : 1)'] }, started);
    expect(event).toMatchObject({ type: 'effect.done', effect: 'deployStaging', result: { environment: 'staging', checked: true } });
    expect(record).toMatchObject({ status: 'completed', reconciled: { outcome: 'done' } });
    expect(await exists(marker)).toBe(false);
  });

  it('asks for a decision when an earlier boot’s deploy cannot be checked', async () => {
    const started: EffectRecord = { status: 'started', key: input.key, taskId: 't1', effect: 'deployStaging', bootId: 'boot-1', startedAt: 1 };
    const { event, record } = await deploy({ staging: ['true'] }, started);
    expect(event).toEqual({ type: 'effect.unknown', effect: 'deployStaging', key: input.key, reason: 'no check command is configured to tell whether the staging deploy ran' });
    expect(record).toMatchObject({ status: 'started', reconciled: { outcome: 'unknown' } });
  });
});
