import type { ConveyorConfig } from '../config/index.ts';

/** The reconciler's knobs with defaults applied and stage overrides checked. */
export interface ReconcilerSettings {
  enabled: boolean;
  intervalMs: number;
  /** How long a task must be unchanged before the reconciler looks at it. */
  graceMs: number;
  /** Per-stage grace, only the overrides that passed the check. */
  stageGraceMs: Record<string, number>;
  maxProbesPerTick: number;
  trackerStatesTtlMs: number;
  mirrorStates: Record<string, string>;
}

export interface ReaperSettings {
  enabled: boolean;
  intervalMs: number;
  /** How long an exited job may wait for its finalization before the reaper finalizes it (Tier 2). */
  finalizeGraceMs: number;
  /** How long a job of this boot may look dead before the reaper calls it lost (Tier 1). */
  lostGraceMs: number;
  /** A job running longer than this is reaped whatever any liveness says (Tier 3). */
  hardCeilingMs: number;
}

export interface SupervisorSettings {
  backoffBaseMs: number;
  backoffMaxMs: number;
  windowMs: number;
  maxRestarts: number;
}

export interface BackgroundSettings {
  reconciler: ReconcilerSettings;
  reaper: ReaperSettings;
  supervisor: SupervisorSettings;
}

/** The three optional configuration sections, as parsed (or written by hand in tests). */
export type BackgroundConfig = {
  reconciler?: Partial<NonNullable<ConveyorConfig['reconciler']>>;
  reaper?: Partial<NonNullable<ConveyorConfig['reaper']>>;
  supervisor?: Partial<NonNullable<ConveyorConfig['supervisor']>>;
};

export interface ResolveOptions {
  /** Stage ids a grace override may name. */
  stages: readonly string[];
  /** The longest time one agent job may run: the work the hard ceiling bounds. */
  longestJobMs: number;
  warn(line: string): void;
}

/** Applies defaults; a bad per-stage grace is dropped with a warning so that the reconciler still starts (SPEC R20). */
export function resolveBackgroundSettings(config: BackgroundConfig, o: ResolveOptions): BackgroundSettings {
  const r = config.reconciler ?? {};
  const p = config.reaper ?? {};
  const s = config.supervisor ?? {};
  const finalizeGraceMs = p.finalizeGraceMs ?? 60_000;
  return {
    reconciler: {
      enabled: r.enabled ?? true,
      intervalMs: r.intervalMs ?? 30_000,
      graceMs: r.graceMs ?? 120_000,
      stageGraceMs: checkGraceOverrides(r.stageGraceMs ?? {}, o),
      maxProbesPerTick: r.maxProbesPerTick ?? 50,
      trackerStatesTtlMs: r.trackerStatesTtlMs ?? 300_000,
      mirrorStates: r.mirrorStates ?? {},
    },
    reaper: {
      enabled: p.enabled ?? true,
      intervalMs: p.intervalMs ?? 15_000,
      finalizeGraceMs,
      lostGraceMs: p.lostGraceMs ?? 30_000,
      // By default the ceiling leaves the job's own timeout and the finalization five minutes of slack.
      hardCeilingMs: p.hardCeilingMs ?? o.longestJobMs + finalizeGraceMs + 5 * 60_000,
    },
    supervisor: {
      backoffBaseMs: s.backoffBaseMs ?? 1_000,
      backoffMaxMs: s.backoffMaxMs ?? 60_000,
      windowMs: s.windowMs ?? 600_000,
      maxRestarts: s.maxRestarts ?? 5,
    },
  };
}

function checkGraceOverrides(overrides: Record<string, unknown>, o: ResolveOptions): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [stage, value] of Object.entries(overrides)) {
    if (!o.stages.includes(stage)) {
      o.warn(`reconciler: ignoring reconciler.stageGraceMs.${stage}: not a stage of the pipeline (one of: ${o.stages.join(', ')})`);
    } else if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
      o.warn(`reconciler: ignoring reconciler.stageGraceMs.${stage}: expected a whole number of ms >= 0 (got ${JSON.stringify(value) ?? String(value)})`);
    } else {
      out[stage] = value;
    }
  }
  return out;
}

/** Why the reaper must not start with this ceiling (SPEC R23), naming the numbers; null when it may. */
export function ceilingProblem(reaper: ReaperSettings, longestJobMs: number): string | null {
  const bound = longestJobMs + reaper.finalizeGraceMs;
  if (reaper.hardCeilingMs > bound) return null;
  return `reaper: refusing to start: the hard ceiling ${reaper.hardCeilingMs} ms must exceed the longest job timeout ${longestJobMs} ms plus the finalize grace ${reaper.finalizeGraceMs} ms (= ${bound} ms)`;
}
