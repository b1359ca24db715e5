import { describe, expect, it } from 'vitest';
import { parseConfig, pipelineFromConfig } from '../../actors/config/index.ts';
import { BOUNDS, compileTaskMachine, defaultPipeline, type PipelineDefinition } from '../../machines/index.ts';

interface NodeLike {
  id: string;
  type: string;
  meta?: { bound?: string };
  tags: readonly string[];
  invoke: readonly { src: unknown }[];
  states: Record<string, NodeLike>;
}

/** Every atomic or final state of the compiled chart (history pseudo-states are not states). */
function leaves(node: NodeLike): NodeLike[] {
  const children = Object.values(node.states ?? {}).filter((c) => c.type !== 'history');
  if (children.length === 0) return [node];
  return children.flatMap(leaves);
}

/** The tags that mark a state a human must act in. */
const HUMAN_TAGS = ['awaiting-decision', 'human-gate', 'on-hold', 'escalated'];

function configured(agents: Record<string, unknown>, stages: Record<string, unknown>): PipelineDefinition {
  const parsed = parseConfig({ repositories: [{ name: 'web', remote: '/srv/git/web.git' }], agents, pipeline: { stages } });
  if (!parsed.ok) throw new Error(parsed.errors.join('\n'));
  return pipelineFromConfig(parsed.config);
}

const allAgents = { analyst: { command: ['a'] }, developer: { command: ['d'] }, reviewer: { command: ['r'] }, tester: { command: ['t'] }, deployer: { command: ['p'] } };

/** Every shape of pipeline the configuration can produce: agents or none per stage, and the stage variants of the definition. */
const pipelines: Record<string, PipelineDefinition> = {
  default: defaultPipeline,
  'configured, every agent': configured(allAgents, {}),
  'configured, agent-less stages': configured({ developer: { command: ['d'] } }, { analysis: { agent: null }, review: { agent: null }, testing: { agent: null }, 'deploy-staging': { agent: null }, deploy: { agent: null } }),
  'one automatic stage that escalates when red': {
    ...defaultPipeline,
    stages: [{ id: 'only', agent: null, gate: 'ciGreen', onRed: 'escalate', humanGate: false, effects: ['mergePullRequest', 'deployProduction'] }],
  },
};

describe('no state of the task chart waits forever', () => {
  for (const [name, pipeline] of Object.entries(pipelines)) {
    it(`every state of the ${name} pipeline has a deadline, a sweep or a human`, () => {
      const root = compileTaskMachine(pipeline).root as unknown as NodeLike;
      const states = leaves(root);
      expect(states.length).toBeGreaterThan(pipeline.stages.length * 5);
      for (const state of states) {
        const by = state.meta?.bound;
        expect(BOUNDS, `${state.id} names no bound in its meta`).toContain(by);
        const timers = state.invoke.filter((i) => i.src === 'timer');
        switch (by) {
          case 'deadline':
            expect(timers, `${state.id} says deadline but invokes no timer`).toHaveLength(1);
            break;
          case 'human':
            expect(state.tags.some((t) => HUMAN_TAGS.includes(t)), `${state.id} says human but carries none of ${HUMAN_TAGS.join(', ')}`).toBe(true);
            break;
          case 'final':
            expect(state.type, `${state.id} says final`).toBe('final');
            break;
          case 'reaper':
            // The reaper sweeps these by their bound (actors/background/reaper-sweep.ts); its tests show it does.
            expect(state.tags, `${state.id} is swept as a queued job`).toContain('queued');
            break;
        }
      }
    });
  }

});
