// `npm run bench -- <name>`: runs bench/<name>.ts and prints its table and, as the last line, `BENCH <name> <json>`.
//
// A bench module exports `run(): Promise<Record<string, number>>` and may export `report(figures): string`
// (its readable table). One that does its own printing instead exports `main()`. A module's figures are
// printed here only, never by the module when it is imported, so nothing is printed twice.
import { readdirSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

type Figures = Record<string, number>;

interface BenchModule {
  main?: () => unknown;
  run?: () => Promise<Figures>;
  report?: (figures: Figures) => string;
}

const DIR = fileURLToPath(new URL('.', import.meta.url));

function available(): string[] {
  return readdirSync(DIR)
    .filter((f) => f.endsWith('.ts') && f !== 'run.ts')
    .map((f) => f.slice(0, -'.ts'.length))
    .sort();
}

function table(figures: Figures): string {
  const width = Math.max(...Object.keys(figures).map((k) => k.length));
  return Object.entries(figures).map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n');
}

/** Watches stdout for a `BENCH <name> ` line, so a module that prints its own is not printed again. */
function watchForBenchLine(name: string): { seen: () => boolean; stop: () => void } {
  const write = process.stdout.write.bind(process.stdout);
  const marker = new RegExp(`(^|\\n)BENCH ${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} `);
  let seen = false;
  process.stdout.write = ((chunk: string | Uint8Array, ...rest: never[]) => {
    if (!seen && marker.test(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString())) seen = true;
    return write(chunk, ...rest);
  }) as typeof process.stdout.write;
  const stop = () => {
    process.stdout.write = write;
  };
  return { seen: () => seen, stop };
}

async function main(): Promise<number> {
  const name = process.argv[2];
  const names = available();
  if (name === undefined || !names.includes(name)) {
    process.stderr.write(`${name === undefined ? 'bench: name a benchmark' : `bench: no benchmark named '${name}'`}; available: ${names.join(', ')}\n`);
    process.stderr.write('usage: npm run bench -- <name>\n');
    return 1;
  }
  const mod = (await import(pathToFileURL(`${DIR}${name}.ts`).href)) as BenchModule;
  const watch = watchForBenchLine(name);
  try {
    if (typeof mod.main === 'function') {
      const result = await mod.main();
      if (!watch.seen() && result !== null && typeof result === 'object') console.log(`BENCH ${name} ${JSON.stringify(result)}`);
      return 0;
    }
    if (typeof mod.run !== 'function') {
      process.stderr.write(`bench: ${name}.ts exports neither run() nor main()\n`);
      return 1;
    }
    const figures = await mod.run();
    if (watch.seen()) return 0;
    console.log(typeof mod.report === 'function' ? mod.report(figures) : table(figures));
    console.log(`BENCH ${name} ${JSON.stringify(figures)}`);
    return 0;
  } finally {
    watch.stop();
  }
}

process.exitCode = await main();
