import { stageTimeoutMs, type ConveyorConfig } from '../config/index.ts';
import type { Conveyor } from '../conveyor.ts';
import type { ForgeConfig } from '../effects/index.ts';
import { Outbox } from '../notifications/index.ts';
import { Background, type BackgroundOptions } from './background.ts';
import { ForgeStatusProbe } from './gate-probe.ts';
import { TrackerClient } from './tracker-client.ts';
import { onClock, RateLimit } from '../rate-limit.ts';
import type { TrackerRoutingTable } from './tracker-events.ts';
import type { LogLine } from '../log.ts';
import { DEFAULT_RETENTION } from '../retention/index.ts';

export interface StartBackgroundOptions {
  /** The validated configuration, or null to run with defaults (no tracker polling, no forge probe). */
  config: ConveyorConfig | null;
  /** The tracker's state map and project routing, as the tracker webhook uses them. */
  tracker: TrackerRoutingTable;
  /** Where tokens named by the configuration are read. */
  env: Record<string, string | undefined>;
  log: LogLine;
  fetch?: typeof fetch;
  /** Anything else to set or replace (tests, the demo). */
  overrides?: Partial<Omit<BackgroundOptions, 'conveyor'>>;
}

/** How often the retention sweep runs without a configuration: hourly, as the configuration's default. */
const DEFAULT_RETENTION_INTERVAL_MS = 3_600_000;

/** Where the supervisor's snapshot is kept (collection meta). */
const SUPERVISOR_RECORD = 'background:supervisor';

/** The probe asks the same forge with the same token as the merge: one limit between them (its own, watched, without a workbench). */
function forgeLimit(conveyor: Conveyor, config: ConveyorConfig | null): RateLimit {
  const shared = conveyor.workbench?.effects.forge.rateLimit;
  if (shared) return shared;
  const own = new RateLimit({ client: 'forge', budgetMs: config?.limits.rateLimitBudgetMs, ...onClock(() => conveyor.runtime.clock) });
  conveyor.watchRateLimit(own);
  return own;
}

/** The longest an agent job may run under this configuration. */
export function longestJobMs(conveyor: Conveyor, config: ConveyorConfig | null): number {
  const stages = conveyor.runtime.pipeline.stages;
  if (!config) return conveyor.runtime.pipeline.jobTimeoutMs;
  return Math.max(conveyor.runtime.pipeline.jobTimeoutMs, ...stages.map((s) => stageTimeoutMs(config, s.id)));
}

/**
 * Builds the background actors from the configuration (tracker client, forge probe, notification webhook),
 * attaches them to the conveyor (its status shows their figures, its stop() stops them) and starts them.
 */
export function startBackground(conveyor: Conveyor, o: StartBackgroundOptions): Background {
  const config = o.config;
  const rt = conveyor.runtime;
  const forges: Record<string, ForgeConfig> = {};
  for (const repo of config?.repositories ?? []) {
    if (repo.forge) forges[repo.name] = { ...repo.forge, token: o.env[repo.forge.tokenEnv] ?? '' };
  }
  const t = config?.tracker;
  const projects = Object.keys(t?.projectRepos ?? {});
  const tracker = t?.apiBase && t.workspace && projects.length > 0
    ? {
        client: new TrackerClient({
          apiBase: t.apiBase, workspace: t.workspace, token: o.env[t.tokenEnv] ?? '', now: () => rt.clock.now(),
          statesTtlMs: config?.reconciler?.trackerStatesTtlMs ?? 300_000, fetch: o.fetch,
          rateLimit: new RateLimit({ client: 'tracker', budgetMs: config?.limits.rateLimitBudgetMs, ...onClock(() => rt.clock) }),
        }),
        routing: o.tracker,
        projects,
      }
    : null;
  if (tracker) conveyor.watchRateLimit(tracker.client.rateLimit);
  if (!tracker && t?.apiBase) o.log('reconciler: tracker.projectRepos names no project; the tracker is not polled');
  for (const [stage, stateId] of Object.entries(config?.reconciler?.mirrorStates ?? {})) {
    const meaning = Object.hasOwn(o.tracker.states, stateId) ? o.tracker.states[stateId]?.meaning : undefined;
    // Mirroring a stage onto a verdict state would make conveyor approve or reject its own analysis.
    if (meaning === 'approved' || meaning === 'rejected') o.log(`mirror: warning: reconciler.mirrorStates.${stage} is ${stateId}, a state that means ${meaning}`);
  }
  const background = new Background({
    conveyor,
    config: { reconciler: config?.reconciler, reaper: config?.reaper, supervisor: config?.supervisor },
    longestJobMs: longestJobMs(conveyor, config),
    tracker,
    probe: Object.keys(forges).length > 0 ? new ForgeStatusProbe({ forges, fetch: o.fetch, rateLimit: forgeLimit(conveyor, config) }) : null,
    outbox: new Outbox({ store: rt, clock: rt.clock, bootId: rt.bootId, webhookUrl: config?.notifications?.webhookUrl ?? null, log: o.log, fetch: o.fetch }),
    log: o.log,
    // Only a configured conveyor comments: the demo's and the simulator's forges have no comments.
    progress: { enabled: config ? (config.notifications?.progressComments ?? true) : false, minIntervalMs: config?.notifications?.progressIntervalMs },
    // Restart counts, the degraded mark and the loops' deadlines survive a restart of conveyor.
    snapshot: rt.read<{ snapshot: unknown }>('meta', SUPERVISOR_RECORD)?.snapshot,
    persist: (snapshot) => rt.write([{ kind: 'put', collection: 'meta', id: SUPERVISOR_RECORD, value: { snapshot } }]),
    // The reaper defers to the agent runner's own finalizations, not only to its own.
    finalizers: conveyor.workbench?.finalizers,
    // The reaper kills a job's group with the same grace as the job's own executor.
    killGraceMs: config?.limits.killGraceMs,
    // Finished tasks to the archive, old delivery keys forgotten, on the runtime's clock (SPEC R40).
    retention: config?.retention ?? { ...DEFAULT_RETENTION, intervalMs: DEFAULT_RETENTION_INTERVAL_MS },
    ...o.overrides,
  });
  background.start();
  conveyor.attachBackground(background);
  return background;
}
