// What a crash costs the next start: the journal since the last checkpoint is folded back, one task step at a
// time, with the chart's pure transition. Tasks resting at a gate take status webhooks (each a step and a
// delivery key), no checkpoint is written, and the data directory is copied as a crash would leave it; the
// copy's start is timed against the start of the same store checkpointed by a clean close.
//   npm run bench -- replay                 2,000 tasks, 30,000 webhooks
//   flags: --tasks N --webhooks N
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Conveyor } from '../actors/index.ts';
import { EmbeddedStore } from '../store/index.ts';

const LANES = 100;
const SHA = 'a'.repeat(40);

/** ms from construction to a started conveyor on `dir`; stopped after. */
async function startMs(dir: string): Promise<number> {
  const began = performance.now();
  const conveyor = new Conveyor({ store: new EmbeddedStore({ dir }) });
  await conveyor.start();
  const ms = performance.now() - began;
  await conveyor.stop();
  return ms;
}

async function waitAtGate(conveyor: Conveyor, ids: string[]): Promise<void> {
  while (ids.some((id) => conveyor.task(id)?.state !== 'analysis.gating') || conveyor.runtime.liveCount() > 0) await new Promise((r) => setTimeout(r, 20));
}

export async function run(): Promise<Record<string, number>> {
  const { values } = parseArgs({ args: process.argv.slice(3), options: { tasks: { type: 'string' }, webhooks: { type: 'string' } } });
  const tasks = Number(values.tasks ?? 2000);
  const webhooks = Number(values.webhooks ?? 30_000);
  const root = await mkdtemp(join(tmpdir(), 'conveyor-bench-replay-'));
  try {
    const dir = join(root, 'live');
    // No checkpoint but the one a clean close writes: everything after the creations stays in the journal.
    const conveyor = new Conveyor({ store: new EmbeddedStore({ dir, checkpointEvery: Number.MAX_SAFE_INTEGER, checkpointIntervalMs: 24 * 3_600_000 }) });
    await conveyor.start();
    const ids: string[] = [];
    for (let i = 0; i < tasks; i += LANES) {
      const made = await Promise.all(Array.from({ length: Math.min(LANES, tasks - i) }, (_, k) => conveyor.createTask({ repo: 'shop', title: `t${i + k}` }, { source: 'operator' })));
      ids.push(...made.map((m) => m.taskId));
    }
    await waitAtGate(conveyor, ids);
    for (let i = 0; i < ids.length; i += LANES) await Promise.all(ids.slice(i, i + LANES).map((id) => conveyor.send(id, { type: 'pr.opened', number: 1, sha: SHA }, { source: 'webhook' })));
    let n = 0;
    while (n < webhooks) {
      await Promise.all(Array.from({ length: Math.min(LANES, webhooks - n) }, () => {
        const i = n++;
        return conveyor.send(ids[i % tasks]!, { type: 'ci.status', sha: SHA, state: 'success', context: 'ci/build', url: `https://ci.test/${i}` }, { source: 'webhook', deliveryKey: `replay-${i}` });
      }));
    }
    // Every commit was fsynced before its answer: the files now are what a kill -9 would leave.
    const crashed = join(root, 'crashed');
    await cp(dir, crashed, { recursive: true });
    await conveyor.stop();
    const crashMs = await startMs(crashed);
    const cleanMs = await startMs(dir);
    return {
      tasks,
      webhooks,
      start_after_crash_ms: Math.round(crashMs),
      start_after_clean_close_ms: Math.round(cleanMs),
      replay_us_per_webhook: Math.round(((crashMs - cleanMs) * 1000) / webhooks),
      crash_vs_clean_ratio: Math.round((crashMs / cleanMs) * 100) / 100,
    };
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

export function report(f: Record<string, number>): string {
  return [
    `replay: ${f.tasks} tasks at a gate, ${f.webhooks} status webhooks journaled since the last checkpoint`,
    `start after a crash (journal folded back)   ${f.start_after_crash_ms} ms`,
    `start after a clean close (checkpoint only) ${f.start_after_clean_close_ms} ms`,
    `replay per webhook                          ${f.replay_us_per_webhook} us`,
  ].join('\n');
}
