import { getStateNodes } from '@xstate/graph';
import { describe, expect, it } from 'vitest';
import type { AnyStateMachine } from 'xstate';
import { describeState, type TaskContext, type TaskEvent } from '../../machines/index.ts';
import { nodesOf } from '../machines/chart-coverage.ts';
import { concreteEvent } from '../machines/replay.ts';
import { buildTaskModelGraph, eventLabel, type ModelEdge } from '../machines/task-model-graph.ts';
import { MODEL_NOW, modelMachine, modelPipeline } from '../machines/task-model.ts';
import { PowerCutWorld } from './power-cut-world.ts';

/** Every state of the chart bounded by a deadline (machines/waits.ts): the states whose timer must survive a power cut. */
function timedStates(machine: AnyStateMachine): string[] {
  return getStateNodes(machine.root)
    .filter((node) => (node.meta as { bound?: string } | undefined)?.bound === 'deadline')
    .map((node) => node.path.join('.'));
}

const graph = buildTaskModelGraph();
const timed = timedStates(modelMachine);

/** The model state in `leaf` with a deadline armed that the fewest steps reach, and the edge its timer takes. */
function nearest(leaf: string): { prefix: ModelEdge[]; fires: ModelEdge } | null {
  let best: { prefix: ModelEdge[]; fires: ModelEdge } | null = null;
  for (const [key, snapshot] of graph.states) {
    const ctx = snapshot.context;
    if (ctx.deadline === null || !nodesOf(snapshot.value).includes(leaf)) continue;
    const fires = graph.out.get(key)?.find((e) => e.event.type === 'timer.fired' && e.event.deadline === ctx.deadline);
    const prefix = graph.prefixes.get(key);
    if (fires && prefix && (!best || prefix.length < best.prefix.length)) best = { prefix, fires };
  }
  return best;
}

const contextOf = (world: PowerCutWorld, taskId: string) => (world.conveyor.record(taskId)!.snapshot as { context: TaskContext }).context;
const stateOf = (world: PowerCutWorld, taskId: string) => world.conveyor.task(taskId)!.state;

/** Takes one model step on the live task: a timer step by letting the task's own timer fire, any other by sending it. */
async function step(world: PowerCutWorld, taskId: string, edge: ModelEdge): Promise<void> {
  const label = `${eventLabel(edge.event)} in ${describeState(edge.before.value)}`;
  if (edge.event.type === 'timer.fired') {
    const deadline = contextOf(world, taskId).deadline!;
    const taken = () => world.conveyor.history(taskId).some((h) => h.accepted && h.event.type === 'timer.fired' && h.event.deadline === deadline);
    expect(await world.runUntil(taken, deadline), `${label}: the task's timer fires`).toBe(true);
  } else {
    const outcome = await world.conveyor.runtime.send(taskId, concreteEvent(edge.event as TaskEvent, edge.before.context, contextOf(world, taskId)), { source: 'operator' });
    expect(outcome, label).toMatchObject({ status: 'accepted' });
  }
  expect(stateOf(world, taskId), label).toBe(describeState(edge.after.value));
}

describe('every timed state of the task chart fires after a power cut', () => {
  it('the chart has timed states in every stage', () => {
    expect(timed.length).toBeGreaterThanOrEqual(modelPipeline.stages.length * 3);
  });

  for (const [i, leaf] of timed.entries()) {
    it(`${leaf.replace(/^active\./, '')}: restored from the journal, its deadline fires and the task moves on`, async () => {
      const reach = nearest(leaf);
      expect(reach, `some model path reaches ${leaf} with a deadline armed`).not.toBeNull();
      if (!reach) return;
      const world = await PowerCutWorld.open({ seed: i + 1, start: MODEL_NOW, pipeline: modelPipeline });
      const { taskId } = await world.conveyor.createTask({ repo: 'acme/web', title: `Timed ${leaf}` }, { source: 'operator' });
      for (const edge of reach.prefix) await step(world, taskId, edge);
      const state = describeState(reach.fires.before.value);
      const { deadline } = contextOf(world, taskId);
      expect(deadline).toBeGreaterThan(world.clock.now());

      await world.powerCut();
      expect(stateOf(world, taskId), 'restored where it was').toBe(state);
      expect(contextOf(world, taskId).deadline, 'with the same deadline').toBe(deadline);
      const moved = await world.runUntil(() => stateOf(world, taskId) !== state, deadline! + 60_000);
      expect(moved, `the task leaves ${state} after the power cut`).toBe(true);
      expect(world.conveyor.history(taskId).at(-1)).toMatchObject({
        source: 'timer', accepted: true, at: deadline, from: state, to: describeState(reach.fires.after.value), event: { type: 'timer.fired', deadline },
      });

      // The move itself was committed before anything else happened: another power cut keeps it.
      await world.powerCut();
      expect(stateOf(world, taskId)).toBe(describeState(reach.fires.after.value));
    });
  }
});
