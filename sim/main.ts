// `npm run simulate -- [--seeds N | --seed S] [--tasks T] [--steps K] [--faults lose=0.2,...] [--time-limit H]`:
// conveyor against a simulated world, one seed per run. Last line: `SIM {json}`.
import { parseFaults } from './faults.ts';
import { runSeeds, type SimOptions } from './sim-runner.ts';

function options(argv: string[]): SimOptions {
  const known = new Set(['seeds', 'seed', 'tasks', 'steps', 'faults', 'time-limit', 'first-seed']);
  const values = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const name = argv[i]!.replace(/^--/, '');
    if (name === 'trace') {
      values.set('trace', '1');
      continue;
    }
    if (!known.has(name) || argv[i + 1] === undefined) throw new Error(`sim: unknown or incomplete option ${argv[i]} (known: --${[...known].join(', --')}, --trace)`);
    values.set(name, argv[++i]!);
  }
  const num = (name: string, fallback: number) => {
    const v = values.get(name);
    const n = v === undefined ? fallback : Number(v);
    if (!Number.isSafeInteger(n) || n < 0) throw new Error(`sim: --${name} must be a whole number, got ${JSON.stringify(v)}`);
    return n;
  };
  const seed = values.get('seed');
  return {
    firstSeed: seed !== undefined ? num('seed', 1) : num('first-seed', 1),
    seeds: seed !== undefined ? 1 : num('seeds', 100),
    tasks: num('tasks', 3),
    steps: num('steps', 400),
    rates: parseFaults(values.get('faults')),
    settleLimitMs: num('time-limit', 36) * 3_600_000,
    printTrace: values.has('trace'),
    log: (line) => process.stdout.write(`${line}\n`),
  };
}

try {
  const summary = await runSeeds(options(process.argv.slice(2)));
  process.exitCode = summary.invariant_violations > 0 ? 1 : 0;
} catch (e) {
  process.stderr.write(`${(e as Error).message}\n`);
  process.exitCode = 2;
}
