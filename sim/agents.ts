import type { Executor, JobExit, JobSpec, RunningJob } from '../actors/index.ts';
import type { SimClock } from './clock.ts';
import type { Faults } from './faults.ts';
import type { SimForge } from './forge.ts';
import type { SimRandom } from './random.ts';

/** What an agent sends to conveyor's API with its job token. */
export type AgentReport = { kind: 'review.verdict'; verdict: 'approved' | 'changes_requested' } | { kind: 'test.result'; passed: boolean } | { kind: 'deploy.status'; environment: 'staging' | 'production'; state: 'success' | 'failure' };

/**
 * Agents as the simulator plays them: each job works for a while, does its stage's part (the developer
 * pushes a commit, the reviewer and tester report a verdict, the deployer a deploy's health), then exits
 * 0, or exits non-zero, dies, or hangs past its timeout as the faults say. Agents die with the process
 * that started them.
 */
export class SimAgents implements Executor {
  constructor(
    private readonly clock: SimClock,
    private readonly random: SimRandom,
    private readonly faults: Faults,
    private readonly forge: SimForge,
    /** The process that starts jobs now is alive; its jobs die with it. */
    private readonly alive: () => () => boolean,
    private readonly report: (spec: JobSpec, body: AgentReport) => Promise<void>,
  ) {}

  start(spec: JobSpec): RunningJob {
    const alive = this.alive();
    let ended = false;
    let resolveExit: (exit: JobExit) => void = () => undefined;
    const exit = new Promise<JobExit>((resolve) => (resolveExit = resolve));
    const end = (e: JobExit) => {
      if (ended || !alive()) return;
      ended = true;
      resolveExit(e);
    };
    const finishedAt = () => this.clock.now();
    const fail = this.faults.roll('agentFail');
    const hang = !fail && this.faults.roll('agentHang');
    const die = !fail && !hang && this.faults.roll('agentDie');
    const red = this.faults.roll('red');
    const push = this.faults.roll('push');
    this.clock.later(this.random.int(30_000, 10 * 60_000), () => {
      if (ended || !alive()) return;
      if (hang) return;
      if (die) return end({ kind: 'exited', code: null, signal: 'SIGKILL', finishedAt: finishedAt() });
      void this.work(spec, red, push)
        .then(() => end({ kind: 'exited', code: fail ? 1 : 0, signal: null, finishedAt: finishedAt() }))
        .catch(() => end({ kind: 'exited', code: 1, signal: null, finishedAt: finishedAt() }));
    });
    return {
      pid: null,
      startedAt: this.clock.now(),
      exit,
      kill: () => end({ kind: 'exited', code: null, signal: 'SIGTERM', finishedAt: finishedAt() }),
    };
  }

  async work(spec: JobSpec, red: boolean, push: boolean): Promise<void> {
    // A push from a stage past development moves the head: verdicts and statuses on the old one go stale.
    if (spec.stage === 'development' || (push && spec.stage !== 'analysis')) this.forge.push(spec.branch);
    switch (spec.stage) {
      case 'review':
        return this.report(spec, { kind: 'review.verdict', verdict: red ? 'changes_requested' : 'approved' });
      case 'testing':
        return this.report(spec, { kind: 'test.result', passed: !red });
      case 'deploy-staging':
      case 'deploy':
        return this.report(spec, { kind: 'deploy.status', environment: spec.stage === 'deploy' ? 'production' : 'staging', state: red ? 'failure' : 'success' });
      default:
        return;
    }
  }
}
