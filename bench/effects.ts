// Cost of the effect journal: the same tiny async effect (one setImmediate, returns a small result) called
// raw and through journaledEffect on a real EmbeddedStore (fsync on) in a temp dir. Sequential calls give the
// per-effect latency (two durable commits: started, then completed); 64 at once show the group commit; a
// completed key invoked again (what a restart does) shows the cost of answering from the journal.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setImmediate as immediate } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { createActor } from 'xstate';
import { journaledEffect } from '../actors/effects/index.ts';
import { systemClock } from '../actors/clock.ts';
import { KeyedSerial } from '../actors/keyed-serial.ts';
import type { RuntimeHandle, SendOutcome } from '../actors/types.ts';
import type { EffectInput } from '../machines/index.ts';
import { EmbeddedStore } from '../store/index.ts';

const SEQUENTIAL = 1_000;
const CONCURRENT = 64;
const BATCHES = 20;

const tinyEffect = async (input: EffectInput) => {
  await immediate();
  return { ok: true, key: input.key };
};

const input = (n: number): EffectInput => ({ taskId: `t${n % 100}`, effect: 'deployStaging', key: `bench:${n}`, repo: 'shop', branch: 'b', head: { sha: 'a'.repeat(40), pr: 1 } });

/** The runtime as an effect sees it, over a real store; a report resolves the waiter of its key. */
function runtimeOver(store: EmbeddedStore, waiters: Map<string, () => void>): RuntimeHandle {
  return {
    clock: systemClock,
    bootId: 'bench',
    turns: new KeyedSerial(),
    stopping: false,
    detached: () => false,
    send: async (taskId, event) => {
      if (event.type === 'effect.done') waiters.get(String((event.result as { key: string }).key))?.();
      return { status: 'accepted', taskId, from: '', to: '' } satisfies SendOutcome;
    },
    committed: () => Promise.resolve(),
    meta: () => undefined,
    contextOf: () => undefined,
    write: async (records) => {
      await store.commit(records);
    },
    read: (collection, id) => store.get(collection, id),
    list: (collection) => store.list(collection),
    annotate: async () => undefined,
  };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

const round = (n: number, digits = 3): number => Number(n.toFixed(digits));

/** Runs the benchmark and returns its figures. */
export async function run(): Promise<Record<string, number>> {
  const dir = await mkdtemp(join(tmpdir(), 'conveyor-bench-effects-'));
  const store = new EmbeddedStore({ dir });
  await store.load();
  try {
    const waiters = new Map<string, () => void>();
    const rt = runtimeOver(store, waiters);
    const logic = journaledEffect({ rt, name: 'deployStaging', idempotent: false, run: tinyEffect, reconcile: async () => ({ notDone: true }) });
    const journaled = (n: number) => {
      const key = input(n).key;
      const done = new Promise<void>((resolve) => waiters.set(key, resolve));
      const actor = createActor(logic, { input: input(n) }).start();
      return done.then(() => {
        waiters.delete(key);
        actor.stop();
      });
    };
    const time = async (fn: () => Promise<unknown>) => {
      const t = performance.now();
      await fn();
      return performance.now() - t;
    };

    // Warm-up of both paths.
    for (let i = 0; i < 100; i++) await tinyEffect(input(-1 - i));
    for (let i = 0; i < 100; i++) await journaled(1_000_000 + i);

    const raw: number[] = [];
    for (let i = 0; i < SEQUENTIAL; i++) raw.push(await time(() => tinyEffect(input(i))));
    const wrapped: number[] = [];
    for (let i = 0; i < SEQUENTIAL; i++) wrapped.push(await time(() => journaled(i)));
    // The same keys again: each is completed, so the journal answers without calling the effect.
    const replayed: number[] = [];
    for (let i = 0; i < SEQUENTIAL; i++) replayed.push(await time(() => journaled(i)));

    let n = 2_000_000;
    const started = performance.now();
    for (let b = 0; b < BATCHES; b++) await Promise.all(Array.from({ length: CONCURRENT }, () => journaled(n++)));
    const concurrentMs = performance.now() - started;

    const r = [...raw].sort((a, b) => a - b);
    const w = [...wrapped].sort((a, b) => a - b);
    const p = [...replayed].sort((a, b) => a - b);
    return {
      effects: SEQUENTIAL,
      raw_p50_ms: round(percentile(r, 50), 4),
      raw_p99_ms: round(percentile(r, 99), 4),
      journaled_p50_ms: round(percentile(w, 50)),
      journaled_p99_ms: round(percentile(w, 99)),
      overhead_p50_ms: round(percentile(w, 50) - percentile(r, 50)),
      overhead_p99_ms: round(percentile(w, 99) - percentile(r, 99)),
      ratio_p50: round(percentile(w, 50) / percentile(r, 50), 1),
      replayed_p50_ms: round(percentile(p, 50), 4),
      replayed_p99_ms: round(percentile(p, 99), 4),
      concurrent: CONCURRENT,
      concurrent_effects_per_s: Math.round((BATCHES * CONCURRENT) / (concurrentMs / 1000)),
      concurrent_ms_per_effect: round(concurrentMs / (BATCHES * CONCURRENT)),
    };
  } finally {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
}

/** The readable table of the figures. */
export function report(r: Record<string, number>): string {
  const rows: [string, number | undefined, number | undefined][] = [
    ['raw call', r.raw_p50_ms, r.raw_p99_ms],
    ['journaled (started+completed)', r.journaled_p50_ms, r.journaled_p99_ms],
    ['overhead', r.overhead_p50_ms, r.overhead_p99_ms],
    ['journaled, already completed', r.replayed_p50_ms, r.replayed_p99_ms],
  ];
  return [
    `effects: ${r.effects} sequential calls of a tiny async effect, raw vs journaled (EmbeddedStore, fsync on)`,
    `${'metric'.padEnd(30)}${'p50 (ms)'.padStart(12)}${'p99 (ms)'.padStart(12)}`,
    ...rows.map(([name, a, b]) => `${name.padEnd(30)}${String(a).padStart(12)}${String(b).padStart(12)}`),
    `ratio journaled / raw at p50: ${r.ratio_p50}`,
    `${r.concurrent} at once: ${r.concurrent_effects_per_s} effects/s (${r.concurrent_ms_per_effect} ms per effect, commits grouped)`,
  ].join('\n');
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const r = await run();
  console.log(report(r));
  console.log(`BENCH effects ${JSON.stringify(r)}`);
}
