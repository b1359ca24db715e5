import { appendFile, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Conveyor, isAlive, processStartedAt, taskFold } from '../../actors/index.ts';
import { compileTaskMachine } from '../../machines/index.ts';
import { lockDataDir } from '../../server/data-dir-lock.ts';
import { EmbeddedStore } from '../../store/index.ts';
import { waitForState } from '../support/http-fixtures.ts';
import { conveyorCli } from './harness.ts';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'conveyor-cli-store-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A data directory as a conveyor leaves it: tasks committed to the journal, no checkpoint yet. */
async function dataDirWithTasks(n: number): Promise<void> {
  const store = new EmbeddedStore({ dir, checkpointEvery: 1_000_000 });
  const conveyor = new Conveyor({ store });
  await conveyor.start();
  for (let i = 0; i < n; i++) {
    const { taskId } = await conveyor.createTask({ repo: 'shop', title: `task ${i}` }, { source: 'operator' });
    await waitForState(conveyor, taskId, 'analysis.gating');
  }
  // A crash, not a stop: a stop would checkpoint and empty the journal.
  await conveyor.runtime.stop();
}

const reopen = async () => {
  const store = new EmbeddedStore({ dir });
  // The journal holds transitions as events: a load folds them with the task chart, as a start does.
  await store.load(taskFold({ current: compileTaskMachine() }));
  const count = store.taskCount();
  await store.close();
  return count;
};

describe('conveyor store', { timeout: 120_000 }, () => {
  it('verify reports a sound journal, then names the byte where a damaged one goes wrong and exits 1', async () => {
    await dataDirWithTasks(2);
    const ok = await conveyorCli(['store', 'verify', '--data', dir]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain('checkpoint: none yet');
    expect(ok.stdout).toMatch(/journal: ok, \d+ bytes, \d+ batches to replay/);
    expect(ok.stdout).toMatch(/contents: seq \d+; 2 tasks/);
    const before = (await stat(join(dir, 'journal.jsonl'))).size;
    await appendFile(join(dir, 'journal.jsonl'), '{"seq": 9999, "records": [}\n');
    const bad = await conveyorCli(['store', 'verify', '--data', dir, '--json']);
    expect(bad.code).toBe(1);
    const report = JSON.parse(bad.stdout) as { ok: boolean; journal: { problem: { lineStart: number; reason: string } } };
    expect(report.ok).toBe(false);
    expect(report.journal.problem.lineStart).toBe(before);
  });

  it('repair cuts the damaged tail, keeps the cut bytes beside the journal, and the store loads again', async () => {
    await dataDirWithTasks(2);
    const journal = join(dir, 'journal.jsonl');
    const good = await readFile(journal);
    const garbage = 'not json at all\n{"seq":1}\n';
    await appendFile(journal, garbage);
    await expect(reopen()).rejects.toThrow(/corrupt at byte/);

    const repaired = await conveyorCli(['store', 'repair', '--data', dir]);
    expect(repaired.code).toBe(0);
    expect(repaired.stdout).toContain(`cut ${garbage.length} bytes (2 lines) from byte ${good.length} of the journal`);
    expect(await readFile(journal)).toEqual(good);
    const saved = (await readdir(dir)).filter((f) => f.startsWith('journal.jsonl.cut-'));
    expect(saved).toHaveLength(1);
    expect(await readFile(join(dir, saved[0]!), 'utf8')).toBe(garbage);
    expect(repaired.stdout).toContain(`saved them to ${join(dir, saved[0]!)}`);
    expect(await reopen()).toBe(2);

    const nothing = await conveyorCli(['store', 'repair', '--data', dir]);
    expect(nothing.code).toBe(0);
    expect(nothing.stdout).toContain('nothing to cut');
  });

  it('repair refuses a damaged checkpoint, which cutting cannot mend', async () => {
    await dataDirWithTasks(1);
    await writeFile(join(dir, 'checkpoint.json'), '{"format":1,"seq":');
    const res = await conveyorCli(['store', 'repair', '--data', dir]);
    expect(res.code).toBe(1);
    expect(res.stdout).toContain('checkpoint: DAMAGED');
    expect(res.stdout).toContain('not repaired');
  });

  it('verify counts the deltas after the base, and names the deltas file when a delta is damaged', async () => {
    const store = new EmbeddedStore({ dir, checkpointEvery: 2, checkpointIntervalMs: 3_600_000 });
    await store.load();
    // The first checkpoint is a base, the next ones deltas; no close, which would write a base. A due checkpoint
    // starts before a commit, so commits go on until one has written a delta (how many depends on the disk's pace).
    const deltas = join(dir, 'checkpoint.deltas.jsonl');
    let decisions = 0;
    const putDecision = () => store.commit([{ kind: 'put', collection: 'decisions', id: `d${decisions}`, value: { i: decisions++ } }]);
    while (decisions < 8) await putDecision();
    await vi.waitFor(async () => {
      if (!(await stat(deltas).then((s) => s.size > 0, () => false))) await putDecision();
      expect((await stat(deltas)).size).toBeGreaterThan(0);
    }, { timeout: 10_000, interval: 20 });
    const ok = await conveyorCli(['store', 'verify', '--data', dir]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/checkpoint: ok, seq \d+, \d+ bytes, then \d+ bytes of deltas in checkpoint.deltas.jsonl/);
    expect(ok.stdout).toContain(`${decisions} decisions`);

    await appendFile(deltas, '{"seq": 99, "after": 1, "tasks": [}\n');
    const bad = await conveyorCli(['store', 'verify', '--data', dir]);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toContain('checkpoint: DAMAGED in checkpoint.deltas.jsonl at byte');
    const repair = await conveyorCli(['store', 'repair', '--data', dir]);
    expect(repair.stdout).toContain('restore checkpoint.deltas.jsonl from a backup');
  });

  it('compact checkpoints everything and empties the journal, keeping every task', async () => {
    await dataDirWithTasks(3);
    const res = await conveyorCli(['store', 'compact', '--data', dir]);
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/checkpointed: journal \d+ → 0 bytes/);
    expect((await stat(join(dir, 'journal.jsonl'))).size).toBe(0);
    expect(res.stdout).toMatch(/checkpoint: ok, seq \d+/);
    expect(await reopen()).toBe(3);
    expect((await conveyorCli(['store', 'shrink', '--data', dir])).code).toBe(2);
  });

  it('repair and compact refuse while a live process holds the data directory, changing nothing', async () => {
    await dataDirWithTasks(1);
    await appendFile(join(dir, 'journal.jsonl'), 'garbage\n');
    const journal = await readFile(join(dir, 'journal.jsonl'));
    const lock = lockDataDir(dir, { self: { pid: process.pid, startedAt: processStartedAt(process.pid) ?? Date.now() }, isAlive });
    try {
      for (const action of ['repair', 'compact']) {
        const res = await conveyorCli(['store', action, '--data', dir]);
        expect(res.code).toBe(1);
        expect(res.stderr).toContain(`in use by process ${process.pid}`);
      }
      expect(await readFile(join(dir, 'journal.jsonl'))).toEqual(journal);
    } finally {
      lock.release();
    }
  });
});
