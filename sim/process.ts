import {
  Conveyor, ForgeStatusProbe, onClock, RateLimit, startBackground, TrackerClient, Workbench,
  type ForgeConfig, type JobSpec, type MirrorRecord, type TrackerRoutingTable,
} from '../actors/index.ts';
import { createApp } from '../server/app.ts';
import { EmbeddedStore } from '../store/index.ts';
import type { AgentReport } from './agents.ts';
import { SimAgents } from './agents.ts';
import type { SimClock } from './clock.ts';
import type { SimDeploys } from './deploys.ts';
import type { SimDisk } from './disk.ts';
import type { Faults } from './faults.ts';
import { FORGE_API, REPO, type SimForge } from './forge.ts';
import type { SimGit } from './git.ts';
import type { SimRandom } from './random.ts';
import { PROJECT, TRACKER_API, TRACKER_STATES, WORKSPACE, type SimTracker } from './tracker.ts';
import type { Acknowledged} from './watched-store.ts';
import { WatchedStore } from './watched-store.ts';
import { FORGE_SECRET, TRACKER_SECRET } from './webhooks.ts';

export const API_TOKEN = 'sim-api-token';
export const DATA_DIR = '/data';

const AGENTS = ['analyst', 'developer', 'reviewer', 'tester', 'deployer'];
const forgeConfig: ForgeConfig = { kind: 'gitea', apiBase: FORGE_API, owner: 'acme', repo: 'shop', token: 'sim-forge-token' };
/** The simulated tracker's states and its one project, whose issues are changes to the simulated repository. */
const trackerRouting: TrackerRoutingTable = { states: TRACKER_STATES, projectRepos: { [PROJECT]: REPO }, defaultRepo: REPO };
/** The status mirror: stages onto tracker states (testing falls back to review's, deploy to deploy-staging's). */
export const MIRROR_STATES: Record<string, string> = { analysis: 'state-in-progress', review: 'state-in-review', 'deploy-staging': 'state-deploying', done: 'state-done' };

/** The simulated world one conveyor process lives in; it outlives every process. */
export interface SimWorld {
  clock: SimClock;
  random: SimRandom;
  faults: Faults;
  disk: SimDisk;
  forge: SimForge;
  tracker: SimTracker;
  git: SimGit;
  deploys: SimDeploys;
  acked: Acknowledged;
}

/**
 * One run of conveyor in the simulated world, from open to crash: the real store, runtime, workbench,
 * background actors and HTTP app, with every contact with the world wired to the simulation. Once it
 * is dead (`alive` false) none of its calls into the world ever returns.
 */
export class SimProcess {
  alive = true;
  readonly conveyor: Conveyor;
  readonly app: ReturnType<typeof createApp>;
  readonly store: WatchedStore;
  /** Per issue, the status write this boot put on record last; writes to one issue go out one at a time. */
  readonly #mirrorStarted = new Map<string, MirrorRecord>();

  constructor(readonly world: SimWorld, readonly incarnation: number) {
    const { clock, random, disk } = world;
    const alive = () => this.alive;
    const fs = disk.view({ alive });
    const fetch = world.forge.fetch(alive);
    const agents = new SimAgents(clock, random, world.faults, world.forge, () => alive, (spec, body) => this.report(spec, body));
    const workbench = new Workbench({
      dataDir: DATA_DIR,
      repos: [{ name: REPO, remote: 'sim://acme/shop', targetBranch: 'main', forge: forgeConfig }],
      deploy: { staging: ['deploy', 'staging'], production: ['deploy', 'production'], check: ['check'] },
      agents: Object.fromEntries(AGENTS.map((a) => [a, { executor: agents, timeoutMs: 30 * 60_000 }])),
      apiBase: () => 'http://conveyor.sim',
      world: { fs, git: world.git.view(alive), runCommand: world.deploys.view(alive), fetch, randomBytes: (n) => random.bytes(n) },
    });
    const store = (this.store = new WatchedStore(new EmbeddedStore({ dir: `${DATA_DIR}/store`, fs, clock, checkpointEvery: 400, checkpointIntervalMs: 30 * 60_000 }), world.acked));
    this.conveyor = new Conveyor({ store, workbench, clock, randomBytes: (n) => random.bytes(n), bootId: `boot${incarnation}` });
    this.conveyor.onCommit((records) => {
      for (const r of records) {
        const mirror = r.kind === 'put' && r.collection === 'effects' ? (r.value as MirrorRecord) : null;
        if (mirror?.effect === 'trackerMirror' && mirror.status === 'started') this.#mirrorStarted.set(mirror.issueId, mirror);
      }
    });
    this.app = createApp({ conveyor: this.conveyor, apiToken: API_TOKEN, trackerSecret: TRACKER_SECRET, forgeSecret: FORGE_SECRET, tracker: trackerRouting });
  }

  /** Loads the store and restores every task; then the background actors start. */
  async start(): Promise<void> {
    await this.conveyor.start();
    const { clock } = this.world;
    const alive = () => this.alive;
    const fetch = this.world.forge.fetch(alive);
    const rateLimit = new RateLimit({ client: 'tracker', ...onClock(() => clock) });
    this.conveyor.watchRateLimit(rateLimit);
    const client = new TrackerClient({
      apiBase: TRACKER_API, workspace: WORKSPACE, token: 'sim-tracker-token', now: () => clock.now(), statesTtlMs: 300_000, rateLimit,
      fetch: this.world.tracker.fetch(alive, this.incarnation, (issueId, stateId) => this.#mirrorKey(issueId, stateId)),
    });
    startBackground(this.conveyor, {
      config: null, tracker: trackerRouting, env: {}, log: () => undefined, fetch,
      overrides: {
        // Loops sweep less often than by default, so that simulated days cost few events.
        config: { reconciler: { intervalMs: 300_000, graceMs: 600_000, mirrorStates: MIRROR_STATES }, reaper: { intervalMs: 300_000 } },
        tracker: { client, routing: trackerRouting, projects: [PROJECT] },
        // The probe asks the same forge as the merge: one rate limit between them, on the simulated clock.
        probe: new ForgeStatusProbe({ forges: { [REPO]: forgeConfig }, fetch, rateLimit: this.conveyor.workbench!.effects.forge.rateLimit }),
        // Progress comments go to the tracker's issues; the simulated forge has no comments.
        progress: { enabled: true, minIntervalMs: 60_000 },
        forge: null,
        // Simulated agents have no pid: the reaper finds none alive and kills none.
        alive: () => false,
        kill: async () => undefined,
        clock,
        // The simulated store has no archive to move finished tasks to.
        retention: null,
      },
    });
  }

  /** The change a status write to an issue is for: the mirror's record this boot last put as started for the issue. */
  #mirrorKey(issueId: string, stateId: string): string | null {
    const started = this.#mirrorStarted.get(issueId);
    return started?.stateId === stateId ? started.key : null;
  }

  /** Sends a request to conveyor's HTTP surface in process; resolves with status and JSON body, or never if the process dies. */
  async request(path: string, init: { method: string; headers: Record<string, string>; body?: string }): Promise<{ status: number; body: unknown }> {
    const res = await this.app.request(path, init);
    const text = await res.text();
    return { status: res.status, body: text ? (JSON.parse(text) as unknown) : null };
  }

  private async report(spec: JobSpec, body: AgentReport): Promise<void> {
    const res = await this.request(`/api/jobs/${spec.jobId}/report`, {
      method: 'POST',
      headers: { authorization: `Bearer ${spec.token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    if (res.status >= 300) throw new Error(`sim: report answered ${res.status}`);
  }
}
