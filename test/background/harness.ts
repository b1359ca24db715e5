import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fromCallback, SimulatedClock } from 'xstate';
import {
  Background, Conveyor, instantImplementations,
  type BackgroundOptions, type Implementations, type JobRecord, type RuntimeHandle,
} from '../../actors/index.ts';
import { defaultPipeline, type AgentInput, type PipelineDefinition } from '../../machines/index.ts';
import { EmbeddedStore } from '../../store/index.ts';

export const REPO = 'acme/shop';

/** What a test's agent does with a job it is given: record it, report it, or leave it hanging. */
export type AgentScript = (job: { id: string; taskId: string; stage: string; attempt: number }, rt: RuntimeHandle) => Promise<void>;

export interface World {
  clock: SimulatedClock;
  conveyor: Conveyor;
  dir: string;
  logs: string[];
  /** A background over this conveyor; call start() yourself. */
  background(opts?: Partial<Omit<BackgroundOptions, 'conveyor'>>): Background;
  /** Moves simulated time on and waits until every sweep it started has finished. */
  advance(ms: number): Promise<void>;
  /** Waits (in real time, on real I/O) until the condition holds. */
  until(what: string, condition: () => boolean): Promise<void>;
  close(): Promise<void>;
}

export interface WorldOptions {
  /** How agents behave; by default every job exits 0 at once. */
  agent?: AgentScript;
  /** Replaces the task timers with ones that never fire (a restored actor whose delays were lost). */
  lostTimers?: boolean;
  pipeline?: PipelineDefinition;
}

/** A conveyor on a real embedded store in a temp dir, on a simulated clock starting at the real time. */
export async function makeWorld(opts: WorldOptions = {}): Promise<World> {
  const dir = await mkdtemp(join(tmpdir(), 'conveyor-background-'));
  const clock = new SimulatedClock();
  clock.set(Date.now());
  const implementations: Implementations = (rt) => ({
    ...instantImplementations(rt),
    ...(opts.agent ? { runAgent: scriptedAgent(rt, opts.agent) } : {}),
    ...(opts.lostTimers ? { timer: fromCallback(() => undefined) } : {}),
  });
  const conveyor = new Conveyor({ store: new EmbeddedStore({ dir }), clock, implementations, pipeline: opts.pipeline ?? defaultPipeline });
  await conveyor.start();
  const logs: string[] = [];
  const backgrounds: Background[] = [];
  const world: World = {
    clock,
    conveyor,
    dir,
    logs,
    background(o = {}) {
      const bg = new Background({ conveyor, clock, log: (line) => logs.push(line), ...o });
      backgrounds.push(bg);
      return bg;
    },
    async advance(ms) {
      clock.increment(ms);
      for (const bg of backgrounds) await bg.settled();
    },
    async until(what, condition) {
      const started = Date.now();
      while (!condition()) {
        if (Date.now() - started > 10_000) throw new Error(`harness: timed out waiting until ${what}`);
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
    },
    async close() {
      for (const bg of backgrounds) await bg.stop();
      await conveyor.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
  return world;
}

function scriptedAgent(rt: RuntimeHandle, script: AgentScript) {
  return fromCallback<{ type: string }, AgentInput>(({ input }) => {
    const job = input.job;
    if (!job) return undefined;
    void (async () => {
      await rt.committed(input.taskId);
      await script({ id: job.id, taskId: input.taskId, stage: input.stage, attempt: job.attempt }, rt);
    })().catch(() => undefined);
    return undefined;
  });
}

/** A job record as the agent runner writes it. */
export function jobRecord(job: { id: string; taskId: string; stage: string; attempt: number }, rt: RuntimeHandle, fields: Partial<JobRecord>): JobRecord {
  return {
    id: job.id, taskId: job.taskId, stage: job.stage, agent: 'test', repo: REPO, attempt: job.attempt,
    status: 'running', requestedAt: rt.clock.now(), bootId: rt.bootId, logPath: '/dev/null', ...fields,
  };
}

/** Creates a task and waits until it rests in the state named. */
export async function taskAt(world: World, state: string, input: { title?: string; trackerIssueId?: string } = {}): Promise<string> {
  const { taskId } = await world.conveyor.createTask({ repo: REPO, title: input.title ?? 'a change', trackerIssueId: input.trackerIssueId }, { source: 'operator' });
  await world.until(`task ${taskId} is in ${state}`, () => world.conveyor.task(taskId)?.state === state);
  return taskId;
}

/** Moves a fresh task to development.gating with a head sha, as the webhooks of a normal day would. */
export async function taskInDevelopment(world: World, sha: string, input: { title?: string; trackerIssueId?: string } = {}): Promise<string> {
  const id = await taskAt(world, 'analysis.gating', input);
  await world.conveyor.send(id, { type: 'analysis.approved', by: 'test' }, { source: 'webhook' });
  await world.until(`task ${id} is in development.gating`, () => world.conveyor.task(id)?.state === 'development.gating');
  await world.conveyor.send(id, { type: 'pr.opened', number: 1, sha }, { source: 'webhook' });
  return id;
}

/** Carries a task from analysis.gating to done on the facts a normal day's webhooks bring (instant agents and effects). */
export async function walkToDone(world: World, id: string, sha = 'c'.repeat(40)): Promise<void> {
  const send = (event: Parameters<Conveyor['send']>[1]) => world.conveyor.send(id, event, { source: 'webhook' });
  const reach = (stage: string) => world.until(`task ${id} is in ${stage}`, () => world.conveyor.task(id)?.state === stage);
  await send({ type: 'analysis.approved', by: 'test' });
  await reach('development.gating');
  await send({ type: 'pr.opened', number: 1, sha });
  await send({ type: 'ci.status', sha, state: 'success', context: 'ci/build' });
  await reach('review.gating');
  await send({ type: 'review.verdict', sha, verdict: 'approved' });
  await reach('testing.gating');
  await send({ type: 'test.result', sha, passed: true });
  await reach('deploy-staging.gating');
  await send({ type: 'deploy.status', environment: 'staging', state: 'success' });
  await reach('deploy.gating');
  await send({ type: 'deploy.status', environment: 'production', state: 'success' });
  await reach('done');
}
