import { cp, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'vitest';
import { replayHistory } from '../../actors/index.ts';
import { EmbeddedStore, type StoreRecord, type TaskRecord, type TaskStep } from '../../store/index.ts';
import { TaskUnderTest } from './replay.ts';
import { buildTaskModelGraph } from './task-model-graph.ts';

const graph = buildTaskModelGraph();

/** A snapshot as JSON reads it back: what the store holds and compares. */
const plain = (snapshot: unknown) => JSON.parse(JSON.stringify(snapshot)) as unknown;

async function journalSteps(dir: string, taskId: string): Promise<TaskStep[]> {
  const lines = (await readFile(join(dir, 'journal.jsonl'), 'utf8')).split('\n').filter((line) => line !== '');
  const records = lines.flatMap((line) => (JSON.parse(line) as { records: StoreRecord[] }).records);
  return records.filter((r): r is TaskStep => r.kind === 'step' && r.taskId === taskId);
}

describe.concurrent('the journal folds each model path back to the live actor\'s snapshot', () => {
  for (const path of graph.paths) {
    it(path.name, async ({ expect }) => {
      const task = await TaskUnderTest.create();
      try {
        const live = [plain(task.snapshot())];
        for (const edge of path.edges) {
          expect((await task.send(edge)).status).toBe('accepted');
          live.push(plain(task.snapshot()));
        }
        const { runtime } = task.conveyor;

        // One way: the journal's steps, each folded as a load after a crash folds it, then a real load of a copy.
        const steps = await journalSteps(task.dir, task.taskId);
        expect(steps).toHaveLength(live.length);
        let record: TaskRecord | undefined;
        for (const [i, step] of steps.entries()) {
          expect(step, `step ${i + 1} is journaled without its snapshot`).not.toHaveProperty('snapshot');
          const folded = runtime.fold(record, step);
          expect(plain(folded.snapshot), `the fold of step ${i + 1} (${step.entry.event.type})`).toEqual(live[i]);
          record = { id: task.taskId, machineId: 'task', meta: step.meta ?? record!.meta, rev: step.rev, version: folded.version, snapshot: folded.snapshot };
        }
        const copy = await mkdtemp(join(tmpdir(), 'conveyor-crash-'));
        try {
          await cp(task.dir, copy, { recursive: true });
          const restored = new EmbeddedStore({ dir: copy });
          await restored.load(runtime.fold);
          expect(plain(restored.getTask(task.taskId)?.snapshot), 'a store loaded from the crashed directory').toEqual(live.at(-1));
          await restored.close();
        } finally {
          await rm(copy, { recursive: true, force: true });
        }

        // The other: time travel, the history folded from the creation.
        const replayed = replayHistory({ current: runtime.chart }, task.conveyor.record(task.taskId)!, task.conveyor.history(task.taskId));
        expect(replayed.filter((e) => e.step).map((e) => plain(e.snapshot))).toEqual(live);
      } finally {
        await task.dispose();
      }
    });
  }
});
