import { fileURLToPath } from 'node:url';
import { CommandExecutor, ForgeStatusProbe, type AgentSetup, type BackgroundOptions, type Conveyor, type WorkbenchOptions } from '../../actors/index.ts';
import { followConveyor } from './console-log.ts';
import { DEMO_REPO, demoRepoSpec, ensureDemoRepo } from './demo-repo.ts';
import { serveForgeApi } from './forge-api.ts';
import { SimForge } from './sim-forge.ts';
import { DEMO_ISSUES, SimTracker } from './sim-tracker.ts';

export { DEMO_ISSUES } from './sim-tracker.ts';
export { DEMO_REPO, demoRemotePath, ensureDemoRepo } from './demo-repo.ts';

const AGENTS = ['analyst', 'developer', 'reviewer', 'tester', 'deployer'] as const;

/** The absolute path of a demo agent's script. */
export function demoAgentPath(agent: (typeof AGENTS)[number]): string {
  return fileURLToPath(new URL(`./agents/${agent}.mjs`, import.meta.url));
}

/** Workbench options for the demo: the local bare repository as repo 'demo' and the five agent scripts as command agents. */
export async function demoWorkbenchOptions(dataDir: string): Promise<Omit<WorkbenchOptions, 'apiBase'>> {
  const repo = await ensureDemoRepo(dataDir);
  if (!repo.ok) throw new Error(repo.reason);
  const agents: Record<string, AgentSetup> = {};
  for (const agent of AGENTS) {
    agents[agent] = { executor: new CommandExecutor({ command: [process.execPath, demoAgentPath(agent)], killGraceMs: 1000 }), timeoutMs: 60_000 };
  }
  return { dataDir, repos: [demoRepoSpec(dataDir)], agents, limits: { globalJobs: 4, perRepoJobs: 3 }, defaultTimeoutMs: 60_000 };
}

export interface DemoOptions {
  conveyor: Conveyor;
  /** Where conveyor's HTTP server listens, e.g. http://127.0.0.1:8080. */
  baseUrl: string;
  dataDir: string;
  apiToken: string;
  trackerSecret: string;
  forgeSecret: string;
  log: (line: string) => void;
  /** The forge sends no CI statuses at all, so development waits on facts that never come (for showing the reconciler). */
  dropCi?: boolean;
  /** The forge rewrites demo-2's branch under it, so its worktree diverges and recovery asks a human. */
  diverge?: boolean;
}

/** The demo issue whose branch the forge rewrites when divergence is switched on. */
const DIVERGING_ISSUE = 'demo-2';

/** A running demo. */
export interface Demo {
  stop(): Promise<void>;
  /** The simulated forge's read API (Gitea REST subset), for the reconciler's probe. */
  forgeApiBase: string;
  /** The tasks of the demo's tracker issues known so far, in issue order. */
  taskIds(): string[];
}

/** Starts the simulated tracker and forge against a running conveyor at baseUrl; prints what happens; resolves a stop function. */
export async function startDemo(opts: DemoOptions): Promise<Demo> {
  const repo = await ensureDemoRepo(opts.dataDir);
  if (!repo.ok) throw new Error(repo.reason);
  const { conveyor, log } = opts;
  const startedAt = Date.now();
  const tracker = new SimTracker({ conveyor, baseUrl: opts.baseUrl, secret: opts.trackerSecret, repo: DEMO_REPO, log });
  const unfollow = followConveyor({ conveyor, log, demoTaskIds: () => tracker.taskIds(), expected: DEMO_ISSUES.length, startedAt });
  const taskOf = (branch: string) => conveyor.taskForBranch(DEMO_REPO, branch);
  const forge = new SimForge({
    baseUrl: opts.baseUrl,
    secret: opts.forgeSecret,
    remotePath: repo.path,
    repo: DEMO_REPO,
    log,
    dropCi: opts.dropCi,
    diverge: opts.diverge ? (branch) => conveyor.task(taskOf(branch) ?? '')?.trackerIssueId === DIVERGING_ISSUE : undefined,
    settled: (branch) => {
      const stage = conveyor.task(taskOf(branch) ?? '')?.stage;
      return stage === 'done' || stage === 'cancelled';
    },
    labelFor: (branch) => {
      const id = taskOf(branch);
      return (id && conveyor.task(id)?.trackerIssueId) || branch;
    },
  });

  const api = await serveForgeApi(forge, DEMO_REPO);
  printIntro(opts);
  forge.start();
  tracker.start();

  let stopping: Promise<void> | null = null;
  return {
    stop: () => {
      stopping ??= (async () => {
        await tracker.stop();
        await forge.stop();
        await api.close();
        unfollow();
      })();
      return stopping;
    },
    taskIds: () => tracker.taskIds(),
    forgeApiBase: api.apiBase,
  };
}

/**
 * The background actors as the demo runs them: a reconciler that probes the simulated forge's API and
 * looks often, so a dropped CI webhook is made up for within seconds rather than minutes.
 */
export function demoBackgroundOverrides(forgeApiBase: string): Pick<BackgroundOptions, 'probe' | 'config'> {
  return {
    probe: new ForgeStatusProbe({ forges: { [DEMO_REPO]: { kind: 'gitea', apiBase: forgeApiBase, owner: DEMO_REPO, repo: DEMO_REPO, token: '' } } }),
    config: { reconciler: { intervalMs: 2_000, graceMs: 3_000 } },
  };
}

function printIntro(o: DemoOptions): void {
  // The token itself is never logged: the lines name a shell variable the operator sets once.
  const auth = `-H "authorization: Bearer $TOKEN" -H 'content-type: application/json'`;
  const bearer = `-H "authorization: Bearer $TOKEN"`;
  o.log(`demo: a simulated tracker opens ${DEMO_ISSUES.length} issues and approves each analysis; a simulated forge with CI watches ${o.dataDir}/demo/remote.git`);
  o.log('demo: agents are real processes (server/demo/agents/*.mjs) working in git worktrees; the issue marked "needs changes" is sent back once by the reviewer');
  o.log(`demo: the API token for the lines below:  TOKEN=\${CONVEYOR_API_TOKEN:-$(node -p "require('${o.dataDir}/secrets.json').CONVEYOR_API_TOKEN")}`);
  if (o.diverge) {
    o.log(`demo: diverge is on: the forge rewrites ${DIVERGING_ISSUE}'s branch; at the next stage boundary conveyor pins the local work, resets, and asks`);
    o.log(`  curl -s ${o.baseUrl}/api/decisions?status=pending ${bearer}`);
    o.log(`  curl -s -X POST ${o.baseUrl}/api/decisions/<id>/resolve ${auth} -d '{"option":"Continue with post-reset state"}'   (or "Abort")`);
  }
  if (o.dropCi) o.log('demo: dropCi is on: the forge sends no CI statuses, so tasks wait in development for a status that never comes');
  o.log('demo: create a task by hand (the simulated tracker never approves it):');
  o.log(`  curl -s -X POST ${o.baseUrl}/api/tasks ${auth} -d '{"repo":"${DEMO_REPO}","title":"Try conveyor by hand"}'`);
  o.log('demo: then approve its analysis yourself, with the id from the answer:');
  o.log(`  curl -s -X POST ${o.baseUrl}/api/tasks/<id>/events ${auth} -d '{"type":"approve"}'`);
  o.log(`demo: watch with  curl -s ${o.baseUrl}/api/tasks ${bearer}`);
  o.log(`demo: metrics at  curl -s ${o.baseUrl}/metrics`);
}
