import { createHash } from 'node:crypto';
import type { FaultRates } from './faults.ts';
import { runSeed, type RunResult } from './run-seed.ts';
import { shrink } from './shrink.ts';

export interface SimOptions {
  firstSeed: number;
  seeds: number;
  tasks: number;
  steps: number;
  rates: FaultRates;
  settleLimitMs: number;
  printTrace?: boolean;
  log(line: string): void;
}

/** What `SIM {json}` reports. */
export interface SimSummary {
  seeds_run: number;
  steps: number;
  task_steps: number;
  simulated_hours: number;
  tasks: number;
  crashes: number;
  faults: Record<string, number>;
  /** Status writes the tracker performed, and changes written again by a later boot after a crash (allowed: a set is idempotent). */
  tracker_writes: number;
  tracker_rewrites_after_crash: number;
  invariant_violations: number;
  failing_seeds: number[];
  /** The slowest task to settle once faults stopped, in simulated hours. */
  max_settle_hours: number;
  seeds_per_second: number;
  /** CPU time per seed, less sensitive than wall time to a busy machine. */
  cpu_ms_per_seed: number;
  trace_digest: string;
}

/** Runs seeds one after another; a failing seed prints its replay command and its shrunk trace. Prints `SIM {json}` last. */
export async function runSeeds(o: SimOptions): Promise<SimSummary> {
  const started = performance.now();
  const cpu = process.cpuUsage();
  const digest = createHash('sha256');
  const summary: SimSummary = {
    seeds_run: 0, steps: 0, task_steps: 0, simulated_hours: 0, tasks: 0, crashes: 0, faults: {}, tracker_writes: 0, tracker_rewrites_after_crash: 0, invariant_violations: 0,
    failing_seeds: [], max_settle_hours: 0, seeds_per_second: 0, cpu_ms_per_seed: 0, trace_digest: '',
  };
  for (let seed = o.firstSeed; seed < o.firstSeed + o.seeds; seed++) {
    const run = { seed, tasks: o.tasks, steps: o.steps, rates: o.rates, settleLimitMs: o.settleLimitMs };
    const r = await runSeed(run);
    add(summary, r);
    digest.update(r.digest);
    if (o.printTrace) o.log(r.trace.join('\n'));
    if (r.violations.length > 0) {
      summary.failing_seeds.push(seed);
      o.log(`seed ${seed} broke an invariant: ${r.violations.join('; ')}`);
      o.log(`  replay: npm run simulate -- --seed ${seed} --tasks ${o.tasks} --steps ${o.steps}${faultsFlag(o.rates)}`);
      const small = await shrink(run, r);
      o.log(`  shrunk to ${small.schedule.length} of ${r.schedule.length} faults (${small.schedule.map((f) => f.kind).join(', ') || 'none'}); its trace:`);
      for (const line of small.trace) o.log(`    ${line}`);
    }
  }
  const seconds = (performance.now() - started) / 1000;
  summary.seeds_per_second = Math.round((summary.seeds_run / seconds) * 100) / 100;
  const used = process.cpuUsage(cpu);
  summary.cpu_ms_per_seed = Math.round((used.user + used.system) / 1000 / Math.max(1, summary.seeds_run));
  summary.simulated_hours = Math.round(summary.simulated_hours * 10) / 10;
  summary.max_settle_hours = Math.round(summary.max_settle_hours * 10) / 10;
  summary.trace_digest = digest.digest('hex').slice(0, 16);
  o.log(`SIM ${JSON.stringify(summary)}`);
  return summary;
}

function add(s: SimSummary, r: RunResult): void {
  s.seeds_run++;
  s.steps += r.steps;
  s.task_steps += r.taskSteps;
  s.simulated_hours += r.simulatedMs / 3_600_000;
  s.tasks += r.tasks;
  s.crashes += r.crashes;
  s.tracker_writes += r.tracker.writes;
  s.tracker_rewrites_after_crash += r.tracker.rewrittenAfterCrash;
  s.invariant_violations += r.violations.length;
  for (const [k, n] of Object.entries(r.faults)) s.faults[k] = (s.faults[k] ?? 0) + n;
  for (const ms of r.settleMs) if (ms !== null) s.max_settle_hours = Math.max(s.max_settle_hours, ms / 3_600_000);
}

function faultsFlag(rates: FaultRates): string {
  return ` --faults ${Object.entries(rates).map(([k, v]) => `${k}=${v}`).join(',')}`;
}
