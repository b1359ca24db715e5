import { describe, expect, it } from 'vitest';
import { describeState, INVOKE_FAILED_PREFIX } from '../../machines/index.ts';
import { chartEventTypes, chartStateNodes, chartTransitions, nodesOf, transitionsTaken } from './chart-coverage.ts';
import { replay } from './replay.ts';
import { buildTaskModelGraph, eventLabel, type ModelEdge } from './task-model-graph.ts';
import { modelMachine } from './task-model.ts';

const graph = buildTaskModelGraph();
const pathEdges = graph.paths.flatMap((p) => p.edges);
const initialValue = graph.states.get(graph.initial)!.value;

describe('the task model', () => {
  it('has a state space in the hundreds', () => {
    expect(graph.states.size).toBeGreaterThanOrEqual(100);
    expect(graph.states.size).toBeLessThan(3000);
  });

  it('samples every event the chart handles, and takes each somewhere and refuses each somewhere', () => {
    const handled = chartEventTypes(modelMachine);
    const accepted = new Set([...graph.out.values()].flat().map((e) => e.event.type as string));
    const refused = new Set(graph.refused.map((e) => e.event.type as string));
    expect(handled.filter((type) => !accepted.has(type))).toEqual([]);
    // An invocation's failure is refused by the runtime before the chart sees it (test/actors/containment.test.ts).
    const refusable = handled.filter((type) => !type.startsWith(INVOKE_FAILED_PREFIX));
    expect([...refusable, 'pr.closed'].filter((type) => !refused.has(type))).toEqual([]);
  });

  it('reaches every state node of the chart on some path', () => {
    const reached = new Set([...nodesOf(initialValue), ...pathEdges.flatMap((e) => nodesOf(e.after.value))]);
    expect(chartStateNodes(modelMachine).filter((node) => !reached.has(node))).toEqual([]);
  });

  it('reaches every model state and takes every accepted edge on some path', () => {
    const taken = new Set(pathEdges.map((e) => e.id));
    const reached = new Set([graph.initial, ...pathEdges.map((e) => e.to)]);
    expect([...graph.states.keys()].filter((s) => !reached.has(s))).toEqual([]);
    expect([...graph.out.values()].flat().filter((e) => !taken.has(e.id)).map((e) => e.id)).toEqual([]);
  });

  it('takes every transition of the chart, eventless ones included, on some path', () => {
    const taken = new Set<string>();
    const seen = new Set<string>();
    for (const edge of pathEdges) {
      if (seen.has(edge.id)) continue;
      seen.add(edge.id);
      for (const t of transitionsTaken(modelMachine, edge.before, edge.event)) taken.add(t);
    }
    expect(chartTransitions(modelMachine).filter((t) => !taken.has(t))).toEqual([]);
  });
});

// A path is up to 60 steps, each a commit, and runs beside others: more than a unit test's time on a busy machine.
const PATH_TIMEOUT_MS = 120_000;

describe.concurrent('a conveyor task follows each model path', () => {
  for (const path of graph.paths) {
    it(path.name, ({ expect }) => replay(path.edges, graph.initial, { expect }), PATH_TIMEOUT_MS);
  }
});

describe.concurrent('a conveyor task follows each model path across a power cut after every step, restored from the journal', () => {
  for (const [i, path] of graph.paths.entries()) {
    it(path.name, ({ expect }) => replay(path.edges, graph.initial, { crashes: { seed: i + 1 }, expect }), PATH_TIMEOUT_MS);
  }
});

// The refused edge with this label nearest the start, among those from states where `where` holds.
function shallowestRefused(label: string, where: (edge: ModelEdge) => boolean): ModelEdge | undefined {
  const candidates = graph.refused.filter((e) => eventLabel(e.event) === label && where(e));
  return candidates.sort((a, b) => graph.prefixes.get(a.from)!.length - graph.prefixes.get(b.from)!.length)[0];
}

const withHead = (e: ModelEdge) => e.before.context.head !== null;
const withJob = (e: ModelEdge) => e.before.context.job !== null;
const refusals: Array<{ label: string; where: (edge: ModelEdge) => boolean; reason: RegExp }> = [
  { label: 'ci.status(stale success)', where: withHead, reason: /^stale: dead000 is not the head / },
  { label: 'review.verdict(stale approved)', where: withHead, reason: /^stale: dead000 is not the head / },
  { label: 'test.result(stale passed)', where: withHead, reason: /^stale: dead000 is not the head / },
  { label: 'pr.merged(stale)', where: withHead, reason: /^stale: dead000 is not the head / },
  { label: 'job.started(stale)', where: withJob, reason: /^stale: job stale\.j0 is not the current job / },
  { label: 'job.exited(stale 0)', where: withJob, reason: /^stale: job stale\.j0 is not the current job / },
  { label: 'timer.fired(stale)', where: (e) => e.before.context.deadline !== null, reason: /^stale: a timer of an earlier state$/ },
  { label: 'decision.resolved(stale Approve)', where: (e) => e.before.context.decision !== null, reason: /stale\.d0/ },
  { label: 'pr.closed', where: () => true, reason: /^pr\.closed is not accepted in / },
];

describe.concurrent('a conveyor task refuses what the model refuses, and says why', () => {
  for (const { label, where, reason } of refusals) {
    it(`ignores ${label} and records it in the history with the reason`, async ({ expect }) => {
      const edge = shallowestRefused(label, where);
      expect(edge, `some model state refuses ${label}`).toBeDefined();
      if (!edge) return;
      const state = describeState(edge.before.value);
      await replay(graph.prefixes.get(edge.from)!, graph.initial, {
        expect,
        then: async (task) => {
          const outcome = await task.send(edge);
          expect(outcome, `${label} in ${state}`).toEqual({ status: 'ignored', taskId: task.taskId, reason: expect.stringMatching(reason), state });
          expect(task.snapshot().value).toEqual(edge.before.value);
          expect(task.conveyor.history(task.taskId).at(-1)).toMatchObject({
            source: 'operator',
            event: { type: edge.event.type },
            accepted: false,
            reason: expect.stringMatching(reason),
            from: state,
            to: state,
          });
        },
      });
    });
  }
});
