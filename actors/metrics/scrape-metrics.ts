import { Counter, Gauge, type Registry } from 'prom-client';

/** A background loop's running totals, as its status shows them. */
export interface LoopFigures {
  ticks: number;
  errors: number;
  unblockedTotal?: number;
  dedupedTotal?: number;
  skippedTerminalTotal?: number;
  byTier?: Record<string, number>;
  finalizerDefers?: number;
}

/** The supervisor, the reconciler and the reaper, when they run in this process. */
export interface BackgroundFigures {
  reconciler: LoopFigures;
  reaper: LoopFigures;
  supervisor: { degraded: boolean; byChild: Record<string, number> };
}

/** The state a scrape reads; figures that are state are never double-kept as counters. */
export interface ScrapeSource {
  tasksByStage(): Record<string, number>;
  actors(): { live: number; sleeping: number };
  /** The runtime's event totals (accepted, ignored, duplicates, created, commitFailures). */
  events(): Record<string, number>;
  scheduler(): { byRepo: Record<string, { queued: number; running: number }> } | null;
  effectsInFlight(): number;
  background(): BackgroundFigures | null;
  openDecisions(): number;
  alerts(): readonly { kind: string; acknowledged: boolean }[];
}

type Setter = (labels: Record<string, string>, value: number) => void;

/** Registers the metrics read from state at scrape time. */
export function registerScrapeMetrics(registry: Registry, source: ScrapeSource): void {
  const registers = [registry];
  // A counter whose total lives elsewhere is re-read whole on every scrape.
  const counter = (name: string, help: string, labelNames: string[], fill: (set: Setter) => void) =>
    new Counter({ name, help, labelNames, registers, collect() {
      this.reset();
      fill((labels, value) => this.inc(labels, value));
    } });
  const gauge = (name: string, help: string, labelNames: string[], fill: (set: Setter) => void) =>
    new Gauge({ name, help, labelNames, registers, collect() {
      this.reset();
      fill((labels, value) => this.set(labels, value));
    } });

  gauge('conveyor_tasks', 'Tasks by stage', ['stage'], (set) => {
    for (const [stage, n] of Object.entries(source.tasksByStage())) set({ stage }, n);
  });
  gauge('conveyor_task_actors', 'Task actors live in memory (work in flight) or asleep until a far deadline', ['state'], (set) => {
    const { live, sleeping } = source.actors();
    set({ state: 'live' }, live);
    set({ state: 'sleeping' }, sleeping);
  });
  counter('conveyor_task_events_total', 'Events offered to tasks, by what came of them', ['outcome'], (set) => {
    for (const [outcome, n] of Object.entries(source.events())) set({ outcome }, n);
  });
  gauge('conveyor_scheduler_jobs', 'Job slots asked for, queued or running, by repository', ['repo', 'state'], (set) => {
    for (const [repo, r] of Object.entries(source.scheduler()?.byRepo ?? {})) {
      set({ repo, state: 'queued' }, r.queued);
      set({ repo, state: 'running' }, r.running);
    }
  });
  gauge('conveyor_effects_in_flight', 'Outside effects started and not yet settled', [], (set) => set({}, source.effectsInFlight()));
  gauge('conveyor_decisions_open', 'Decisions waiting for a human', [], (set) => set({}, source.openDecisions()));
  gauge('conveyor_alerts', 'Alerts recorded, by kind, open or acknowledged', ['kind', 'state'], (set) => {
    const counts = new Map<string, { kind: string; state: string; n: number }>();
    for (const a of source.alerts()) {
      const state = a.acknowledged ? 'acknowledged' : 'open';
      const entry = counts.get(`${a.kind}\u0000${state}`) ?? { kind: a.kind, state, n: 0 };
      entry.n++;
      counts.set(`${a.kind}\u0000${state}`, entry);
    }
    for (const { kind, state, n } of counts.values()) set({ kind, state }, n);
  });
  registerBackgroundMetrics(counter, gauge, source);
}

type Make = (name: string, help: string, labelNames: string[], fill: (set: Setter) => void) => unknown;

function registerBackgroundMetrics(counter: Make, gauge: Make, source: ScrapeSource): void {
  counter('conveyor_background_ticks_total', 'Sweeps of the reconciler and the reaper', ['loop'], (set) => {
    const b = source.background();
    if (!b) return;
    set({ loop: 'reconciler' }, b.reconciler.ticks);
    set({ loop: 'reaper' }, b.reaper.ticks);
  });
  counter('conveyor_background_actions_total', 'What the sweeps did: tasks unblocked, replays deduplicated, jobs reaped by tier, finalizers deferred to, errors', ['loop', 'action'], (set) => {
    const b = source.background();
    if (!b) return;
    const { reconciler: r, reaper: p } = b;
    set({ loop: 'reconciler', action: 'unblocked' }, r.unblockedTotal ?? 0);
    set({ loop: 'reconciler', action: 'replay_deduplicated' }, r.dedupedTotal ?? 0);
    set({ loop: 'reconciler', action: 'terminal_state_skipped' }, r.skippedTerminalTotal ?? 0);
    set({ loop: 'reconciler', action: 'error' }, r.errors);
    for (const [tier, n] of Object.entries(p.byTier ?? {})) set({ loop: 'reaper', action: `reaped_tier_${tier}` }, n);
    set({ loop: 'reaper', action: 'finalizer_deferred' }, p.finalizerDefers ?? 0);
    set({ loop: 'reaper', action: 'error' }, p.errors);
  });
  counter('conveyor_supervisor_restarts_total', 'Restarts of a background loop by the supervisor', ['loop'], (set) => {
    for (const [loop, n] of Object.entries(source.background()?.supervisor.byChild ?? {})) set({ loop }, n);
  });
  gauge('conveyor_supervisor_degraded', '1 while too many restarts within the window have marked the runtime degraded', [], (set) => {
    const b = source.background();
    if (b) set({}, b.supervisor.degraded ? 1 : 0);
  });
}
