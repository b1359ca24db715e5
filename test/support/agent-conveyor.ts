import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Conveyor, parseConfig, pipelineFromConfig, Workbench, workbenchOptionsFromConfig } from '../../actors/index.ts';
import { EmbeddedStore } from '../../store/index.ts';
import { createApp } from '../../server/app.ts';
import { defaultTrackerRouting } from '../../server/default-tracker.ts';
import { API_TOKEN, apiCaller, FORGE_SECRET, TRACKER_SECRET } from './http-fixtures.ts';

const STAGES_WITHOUT_AGENT = ['development', 'review', 'testing', 'deploy-staging', 'deploy'];

/** What the fake CLI was asked, one entry per run. */
export interface CliCall {
  args: string[];
  prompt: string;
  resume: string | null;
}

export interface AgentConveyor {
  conveyor: Conveyor;
  /** The fake CLI's record of its runs (FAKE_CLI_RECORD). */
  record: string;
  calls(): Promise<CliCall[]>;
  api: ReturnType<typeof apiCaller>;
  stop(): Promise<void>;
}

/**
 * A conveyor whose analysis stage runs one agent of a CLI kind (the fake CLI, a real child process) and
 * whose later stages run none; on real files in a temporary directory, with its HTTP app.
 */
export async function agentConveyor(kind: 'claude-code' | 'codex', command: string[], env: Record<string, string> = {}, limits: Record<string, number> = {}): Promise<AgentConveyor> {
  const dir = await mkdtemp(join(tmpdir(), `conveyor-${kind}-`));
  const record = join(dir, 'calls.jsonl');
  const parsed = parseConfig({
    repositories: [{ name: 'unused', remote: '/nonexistent/unused.git' }],
    agents: { analyst: { kind, command, env: { FAKE_CLI_RECORD: record, ...env } } },
    limits: { maxJobAttempts: 2, baseBackoffMs: 100, ...limits },
    pipeline: { stages: Object.fromEntries(STAGES_WITHOUT_AGENT.map((s) => [s, { agent: null }])) },
  });
  if (!parsed.ok) throw new Error(parsed.errors.join('\n'));
  const workbench = new Workbench(workbenchOptionsFromConfig(parsed.config, join(dir, 'data')));
  const conveyor = new Conveyor({ store: new EmbeddedStore({ dir: join(dir, 'store') }), workbench, pipeline: pipelineFromConfig(parsed.config) });
  await conveyor.start();
  const api = apiCaller(createApp({ conveyor, apiToken: API_TOKEN, trackerSecret: TRACKER_SECRET, forgeSecret: FORGE_SECRET, tracker: defaultTrackerRouting }));
  const calls = async () => (await readFile(record, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as CliCall);
  const stop = async () => {
    await conveyor.stop();
    await rm(dir, { recursive: true, force: true });
  };
  return { conveyor, record, calls, api, stop };
}
