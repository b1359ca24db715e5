// The simulator's speed on one core: 40 seeds of 3 tasks with every fault kind conveyor survives
// (CI's set), run one after another in this process. Task-steps are committed task transitions.
import { parseFaults } from '../sim/faults.ts';
import { runSeeds } from '../sim/sim-runner.ts';

const SEEDS = 40;

export async function run(): Promise<Record<string, number>> {
  const started = performance.now();
  const cpu = process.cpuUsage();
  const s = await runSeeds({ firstSeed: 1_000, seeds: SEEDS, tasks: 3, steps: 400, settleLimitMs: 36 * 3_600_000, rates: parseFaults('enospc=0,eio=0'), log: () => undefined });
  const wallS = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  const cpuS = (used.user + used.system) / 1e6;
  return {
    seeds: s.seeds_run,
    task_steps: s.task_steps,
    world_steps: s.steps,
    simulated_hours: s.simulated_hours,
    violations: s.invariant_violations,
    task_steps_per_cpu_s: Math.round(s.task_steps / cpuS),
    seeds_per_cpu_minute: Math.round((s.seeds_run / cpuS) * 60),
    seeds_per_wall_minute: Math.round((s.seeds_run / wallS) * 60),
    simulated_hours_per_cpu_s: Math.round(s.simulated_hours / cpuS),
  };
}
