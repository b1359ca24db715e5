import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExpectStatic } from 'vitest';
import { Conveyor, type Clock, type SendOutcome, type TaskEventInput } from '../../actors/index.ts';
import { describeState, type TaskContext, type TaskEvent } from '../../machines/index.ts';
import { SimDisk } from '../../sim/disk.ts';
import { SimRandom } from '../../sim/random.ts';
import { EmbeddedStore, type FileSystem } from '../../store/index.ts';
import { quietImplementations } from '../support/quiet-implementations.ts';
import { eventLabel, type ModelEdge } from './task-model-graph.ts';
import { freshSha, MODEL_NOW, modelPipeline } from './task-model.ts';
import { serializeTaskState, type SnapshotLike } from './task-model-state.ts';

/**
 * A clock stopped at the model's instant, whose timers never fire: only the path's events move a task.
 * A path's timer fires at its deadline, so the replay moves the clock there first.
 */
class SteppedClock implements Clock {
  at = MODEL_NOW;
  now = () => this.at;
  setTimeout = () => undefined;
  clearTimeout = () => undefined;
}

async function open(dir: string, clock: SteppedClock, fs?: FileSystem): Promise<Conveyor> {
  const conveyor = new Conveyor({ store: new EmbeddedStore({ dir, fs }), clock, pipeline: modelPipeline, implementations: quietImplementations });
  await conveyor.start();
  return conveyor;
}

/**
 * The model's event as this task must receive it: the current job, deadline, decision and head of the
 * model stand for the task's own, and the runtime stamps the time.
 */
export function concreteEvent(event: TaskEvent, model: TaskContext, live: TaskContext): TaskEventInput {
  const { at: _at, ...input } = event;
  const out = { ...input } as Record<string, unknown>;
  if ('jobId' in input && input.jobId === model.job?.id) out.jobId = live.job?.id;
  if (input.type === 'timer.fired' && input.deadline === model.deadline) out.deadline = live.deadline;
  if (input.type === 'decision.resolved' && input.decisionId === model.decision?.id) out.decisionId = live.decision?.id;
  if ('sha' in input) {
    if (model.head && input.sha === model.head.sha) out.sha = live.head?.sha;
    // A push to a sha the task has not had yet.
    else if (input.type === 'pr.synchronized') out.sha = freshSha(live);
  }
  return out as TaskEventInput;
}

/** The simulated disk a crashing task's store lives on, and the process now using it. */
interface Power {
  disk: SimDisk;
  process: { alive: boolean };
}

/**
 * One task on a conveyor with an embedded store in its own temporary directory, or, for crashes, on a
 * simulated disk with a page cache (sim/disk.ts) that loses whatever was not fsynced.
 */
export class TaskUnderTest {
  private constructor(
    readonly dir: string,
    private readonly clock: SteppedClock,
    public conveyor: Conveyor,
    readonly taskId: string,
    private readonly power: Power | null,
  ) {}

  static async create(opts: { crashes?: { seed: number } } = {}): Promise<TaskUnderTest> {
    const clock = new SteppedClock();
    const power = opts.crashes ? { disk: new SimDisk(new SimRandom(opts.crashes.seed)), process: { alive: true } } : null;
    const dir = power ? '/model' : await mkdtemp(join(tmpdir(), 'conveyor-model-'));
    const conveyor = await open(dir, clock, power ? TaskUnderTest.#view(power) : undefined);
    const { taskId } = await conveyor.createTask({ repo: 'acme/web', title: 'Model path' }, { source: 'operator' });
    return new TaskUnderTest(dir, clock, conveyor, taskId, power);
  }

  static #view(power: Power): FileSystem {
    const process = power.process;
    return power.disk.view({ alive: () => process.alive });
  }

  /** The task's committed snapshot, as the store holds it. */
  snapshot(): SnapshotLike {
    return this.conveyor.record(this.taskId)!.snapshot as SnapshotLike;
  }

  send(edge: ModelEdge): Promise<SendOutcome> {
    const event = concreteEvent(edge.event, edge.before.context, this.snapshot().context);
    if (event.type === 'timer.fired') this.clock.at = Math.max(this.clock.at, event.deadline);
    return this.conveyor.runtime.send(this.taskId, event, { source: 'operator' });
  }

  /**
   * Cuts the power: the running conveyor is abandoned mid-flight (no drain, no checkpoint; its calls to
   * the disk never answer again), the disk drops what was not fsynced and may tear the last write, and a
   * new conveyor opens on what the disk kept.
   */
  async crash(): Promise<void> {
    if (!this.power) throw new Error('replay: a task made without crashes cannot crash');
    this.power.process.alive = false;
    this.power.disk.crash();
    this.power.process = { alive: true };
    this.conveyor = await open(this.dir, this.clock, TaskUnderTest.#view(this.power));
  }

  async dispose(): Promise<void> {
    try {
      await this.conveyor.stop();
    } finally {
      if (!this.power) await rm(this.dir, { recursive: true, force: true });
    }
  }
}

/**
 * Sends a path's events to a real task one by one and checks, after each, that the task is where the model
 * says: same state value, same serialized facts. With `crashes`, the power is cut after every step and
 * conveyor reopens from what the simulated disk kept, which must be the acknowledged record exactly.
 */
export async function replay(
  path: readonly ModelEdge[],
  initial: string,
  options: { crashes?: { seed: number }; expect: ExpectStatic; then?: (task: TaskUnderTest) => Promise<void> },
): Promise<void> {
  const { expect } = options;
  const task = await TaskUnderTest.create({ crashes: options.crashes });
  try {
    expect(serializeTaskState(task.snapshot()), 'the new task').toBe(initial);
    for (const [i, edge] of path.entries()) {
      const step = `step ${i + 1} (${eventLabel(edge.event)} in ${describeState(edge.before.value)})`;
      const outcome = await task.send(edge);
      expect(outcome, step).toMatchObject({ status: 'accepted', to: describeState(edge.after.value) });
      const live = task.snapshot();
      expect(live.value, step).toEqual(edge.after.value);
      expect(serializeTaskState(live), step).toBe(edge.to);
      // Invoked work restores by name only: the same children must be alive as the model says.
      expect(Object.keys(live.children ?? {}).sort(), step).toEqual(Object.keys(edge.after.children).sort());
      expect(task.conveyor.task(task.taskId)?.state, step).toBe(describeState(edge.after.value));
      if (options.crashes) {
        const acknowledged = task.conveyor.record(task.taskId);
        const history = task.conveyor.history(task.taskId);
        await task.crash();
        expect(task.conveyor.record(task.taskId), `${step}, after the crash`).toEqual(acknowledged);
        expect(task.conveyor.history(task.taskId), `${step}, its history after the crash`).toEqual(history);
        expect(serializeTaskState(task.snapshot()), `${step}, after the crash`).toBe(edge.to);
      }
    }
    await options.then?.(task);
  } finally {
    await task.dispose();
  }
}
