import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BackgroundStartError, exitFilePath, isAlive, type Background, type BackgroundConfig, type JobRecord } from '../../actors/index.ts';
import { defaultPipeline } from '../../machines/index.ts';
import { jobRecord, makeWorld, taskAt, type AgentScript, type World } from './harness.ts';

const config: BackgroundConfig = {
  reconciler: { enabled: false },
  reaper: { intervalMs: 1_000, lostGraceMs: 3_000, finalizeGraceMs: 5_000 },
};

/** The pid of a process that has already exited. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
  await once(child, 'exit');
  return child.pid!;
}

/** Reports a job as running on a process of its own (a real one, or one already gone). */
function runningOn(pid: () => Promise<number>, fields: Partial<JobRecord> = {}): AgentScript {
  return async (job, rt) => {
    const p = await pid();
    await rt.write([{ kind: 'put', collection: 'jobs', id: job.id, value: jobRecord(job, rt, { status: 'running', pid: p, startedAt: rt.clock.now(), ...fields }) }]);
    await rt.send(job.taskId, { type: 'job.started', jobId: job.id, pid: p }, { source: 'job' });
  };
}

/**
 * Runs the reaper for `seconds` one-second sweeps while a finalizer of the job is at work, through which the task
 * stays where it is and the reaper counts one deferral; then the finalizer goes and one more sweep runs.
 */
async function deferredWhileFinalized(world: World, taskId: string, jobId: string, cfg: BackgroundConfig, seconds: number): Promise<Background> {
  const bg = world.background({ config: cfg });
  const release = bg.finalizers.begin(jobId);
  bg.start();
  for (let i = 0; i < seconds; i++) await world.advance(1_000);
  expect(world.conveyor.task(taskId)?.state).toBe('analysis.working.running');
  expect(bg.counters.reaper).toMatchObject({ reapedTotal: 0, finalizerDefers: 1 });
  release();
  await world.advance(1_000);
  return bg;
}

describe('reaper', () => {
  let world: World;
  const spawned: number[] = [];
  afterEach(async () => {
    // A failed assertion must not leave a test's process group behind.
    for (const pid of spawned.splice(0)) if (isAlive(pid)) process.kill(-pid, 'SIGKILL');
    await world?.close();
  });

  const vanished = [
    { it: 'reports a job whose process vanished without a recorded exit (tier 1), after the grace', onDisk: null, to: 'analysis.retrying', status: 'lost', tiers: { 1: 1, 2: 0, 3: 0 } },
    { it: "records the exit its job's relay left on disk as it is, not as lost, when nothing in conveyor recorded it", onDisk: 0, to: 'analysis.gating', status: 'exited', tiers: { 1: 0, 2: 1, 3: 0 } },
  ] as const;
  for (const c of vanished) {
    it(c.it, async () => {
      let dir = '';
      world = await makeWorld({ agent: (job, rt) => runningOn(deadPid, { logPath: join(dir, `${job.id}.log`) })(job, rt), lostTimers: true });
      dir = world.dir;
      const id = await taskAt(world, 'analysis.working.running');
      const jobId = world.conveyor.task(id)!.context.job!.id;
      const finishedAt = world.clock.now();
      if (c.onDisk !== null) await writeFile(exitFilePath(join(dir, `${jobId}.log`)), JSON.stringify({ code: c.onDisk, signal: null, finishedAt }));
      const bg = world.background({ config });
      bg.start();
      await world.advance(1_000);
      await world.advance(1_000);
      expect(world.conveyor.task(id)?.state).toBe('analysis.working.running');
      await world.advance(3_000);
      expect(world.conveyor.task(id)?.state).toBe(c.to);
      expect(world.conveyor.job(jobId)).toMatchObject({ status: c.status, exitCode: c.onDisk });
      expect(world.conveyor.history(id).at(-1)).toMatchObject({ source: 'reaper', event: { type: 'job.exited', jobId, code: c.onDisk } });
      expect(bg.counters.reaper).toMatchObject({ reapedTotal: 1, byTier: c.tiers });
      expect(bg.outbox.stats.enqueued).toBe(1);
    });
  }

  it("waits for a job's watcher however long its process has been gone, whatever the grace", async () => {
    world = await makeWorld({ agent: runningOn(deadPid), lostTimers: true });
    const id = await taskAt(world, 'analysis.working.running');
    const jobId = world.conveyor.task(id)!.context.job!.id;
    await deferredWhileFinalized(world, id, jobId, { ...config, reaper: { ...config.reaper, lostGraceMs: 0 } }, 60);
    expect(world.conveyor.task(id)?.state).toBe('analysis.retrying');
    expect(world.conveyor.job(jobId)).toMatchObject({ status: 'lost', exitCode: null });
  });

  it('leaves a running job without a pid (an in-process agent of this boot) alone, and reaps one of an earlier boot', async () => {
    const inProcess = (bootId?: string): AgentScript => async (job, rt) => {
      await rt.write([{ kind: 'put', collection: 'jobs', id: job.id, value: jobRecord(job, rt, { status: 'running', startedAt: rt.clock.now(), ...(bootId ? { bootId } : {}) }) }]);
      await rt.send(job.taskId, { type: 'job.started', jobId: job.id }, { source: 'job' });
    };
    world = await makeWorld({ agent: inProcess(), lostTimers: true });
    const ours = await taskAt(world, 'analysis.working.running');
    world.background({ config }).start();
    for (let i = 0; i < 10; i++) await world.advance(1_000);
    expect(world.conveyor.task(ours)?.state).toBe('analysis.working.running');
    await world.close();

    world = await makeWorld({ agent: inProcess('an-earlier-boot'), lostTimers: true });
    const theirs = await taskAt(world, 'analysis.working.running');
    world.background({ config }).start();
    for (let i = 0; i < 2; i++) await world.advance(1_000);
    expect(world.conveyor.task(theirs)?.state).toBe('analysis.retrying');
  });

  it('reports an orphaned job of an earlier boot at once, and one bad job does not stop the sweep', async () => {
    let n = 0;
    world = await makeWorld({ agent: runningOn(async () => 4_000_000 + n++, { status: 'orphaned', bootId: 'an-earlier-boot' }), lostTimers: true });
    const first = await taskAt(world, 'analysis.working.running');
    const second = await taskAt(world, 'analysis.working.running');
    const badPid = world.conveyor.task(first)!.context.job!.pid;
    await world.conveyor.runtime.write([{ kind: 'put', collection: 'jobs', id: world.conveyor.task(first)!.context.job!.id, value: { ...world.conveyor.job(world.conveyor.task(first)!.context.job!.id)!, status: 'running' } }]);
    const bg = world.background({ config, alive: (pid) => {
      if (pid === badPid) throw new Error('cannot read /proc');
      return false;
    } });
    bg.start();
    await world.advance(1_000);
    expect(world.conveyor.task(second)?.state).toBe('analysis.retrying');
    expect(world.conveyor.task(first)?.state).toBe('analysis.working.running');
    expect(bg.counters.reaper).toMatchObject({ reapedTotal: 1, errors: 1 });
    expect(world.logs.some((l) => l.includes('cannot read /proc'))).toBe(true);
  });

  it('finalizes a recorded exit the task never heard of (tier 2)', async () => {
    world = await makeWorld({
      lostTimers: true,
      agent: async (job, rt) => {
        await rt.send(job.taskId, { type: 'job.started', jobId: job.id }, { source: 'job' });
        await rt.write([{ kind: 'put', collection: 'jobs', id: job.id, value: jobRecord(job, rt, { status: 'exited', exitCode: 0, startedAt: rt.clock.now(), finishedAt: rt.clock.now() }) }]);
      },
    });
    const id = await taskAt(world, 'analysis.working.running');
    await world.until('the exit is on record', () => world.conveyor.job(world.conveyor.task(id)!.context.job!.id)?.status === 'exited');
    const bg = world.background({ config });
    bg.start();
    for (let i = 0; i < 5; i++) await world.advance(1_000);
    expect(world.conveyor.task(id)?.state).toBe('analysis.working.running');
    await world.advance(1_000);
    expect(world.conveyor.task(id)?.state).toBe('analysis.gating');
    expect(bg.counters.reaper).toMatchObject({ reapedTotal: 1, byTier: { 1: 0, 2: 1, 3: 0 } });
  });

  it("finalizes a recorded exit with the question its agent ended with, which a decision then asks (tier 2)", async () => {
    const question = { text: 'Does a trailing newline count?', options: ['Count it', 'Skip it'] };
    world = await makeWorld({
      lostTimers: true,
      agent: async (job, rt) => {
        await rt.send(job.taskId, { type: 'job.started', jobId: job.id }, { source: 'job' });
        await rt.write([{ kind: 'put', collection: 'jobs', id: job.id, value: jobRecord(job, rt, { status: 'exited', exitCode: 0, startedAt: rt.clock.now(), finishedAt: rt.clock.now(), question }) }]);
      },
    });
    const id = await taskAt(world, 'analysis.working.running');
    await world.until('the exit is on record', () => world.conveyor.job(world.conveyor.task(id)!.context.job!.id)?.status === 'exited');
    world.background({ config }).start();
    for (let i = 0; i < 6; i++) await world.advance(1_000);
    expect(world.conveyor.task(id)?.state).toBe('analysis.asking');
    expect(world.conveyor.decisions.list('pending', id)).toEqual([expect.objectContaining({ question: question.text, options: ['Count it', 'Skip it', 'Reply'] })]);
  });

  it('defers to a finalizer that is still alive, and finalizes once it is gone (tier 2)', async () => {
    world = await makeWorld({
      lostTimers: true,
      agent: async (job, rt) => {
        await rt.send(job.taskId, { type: 'job.started', jobId: job.id }, { source: 'job' });
        await rt.write([{ kind: 'put', collection: 'jobs', id: job.id, value: jobRecord(job, rt, { status: 'exited', exitCode: 0, startedAt: rt.clock.now(), finishedAt: rt.clock.now() }) }]);
      },
    });
    const id = await taskAt(world, 'analysis.working.running');
    const jobId = world.conveyor.task(id)!.context.job!.id;
    await world.until('the exit is on record', () => world.conveyor.job(jobId)?.status === 'exited');
    const bg = await deferredWhileFinalized(world, id, jobId, config, 10);
    expect(world.conveyor.task(id)?.state).toBe('analysis.gating');
    expect(bg.counters.reaper.byTier[2]).toBe(1);
  });

  it('reaps a job past the hard ceiling although its process is alive (tier 3)', async () => {
    const pipeline = { ...defaultPipeline, jobTimeoutMs: 60_000 };
    let pid = 0;
    world = await makeWorld({
      pipeline,
      lostTimers: true,
      agent: async (job, rt) => {
        const child = spawn('sleep', ['60'], { stdio: 'ignore', detached: true });
        child.unref();
        pid = child.pid!;
        spawned.push(pid);
        await rt.write([{ kind: 'put', collection: 'jobs', id: job.id, value: jobRecord(job, rt, { status: 'running', pid, startedAt: Date.now() }) }]);
        await rt.send(job.taskId, { type: 'job.started', jobId: job.id, pid }, { source: 'job' });
      },
    });
    const id = await taskAt(world, 'analysis.working.running');
    const started = world.conveyor.job(world.conveyor.task(id)!.context.job!.id)!.startedAt!;
    const bg = world.background({ config: { ...config, reaper: { ...config.reaper, hardCeilingMs: 120_000 } } });
    bg.start();
    await world.advance(60_000);
    expect(isAlive(pid, started)).toBe(true);
    expect(world.conveyor.task(id)?.state).toBe('analysis.working.running');
    await world.advance(62_000);
    expect(world.conveyor.task(id)?.state).toBe('analysis.retrying');
    expect(isAlive(pid, started)).toBe(false);
    expect(world.conveyor.history(id).at(-1)?.event).toMatchObject({ type: 'job.exited', code: null, reason: expect.stringContaining('past the hard ceiling of 120000 ms') });
    expect(bg.counters.reaper).toMatchObject({ reapedTotal: 1, byTier: { 1: 0, 2: 0, 3: 1 } });
  });

  it('sweeps a job waiting in queued whose slot request the scheduler lost, and leaves one it holds alone', async () => {
    // The runner recorded the job as queued, then its request to the scheduler was lost (a write that failed, a revived actor).
    const queuedOnly: AgentScript = async (job, rt) => {
      await rt.write([{ kind: 'put', collection: 'jobs', id: job.id, value: jobRecord(job, rt, { status: 'queued' }) }]);
    };
    world = await makeWorld({ agent: queuedOnly, lostTimers: true });
    const held = await taskAt(world, 'analysis.working.queued');
    const lost = await taskAt(world, 'analysis.working.queued');
    const heldJob = world.conveyor.task(held)!.context.job!.id;
    const lostJob = world.conveyor.task(lost)!.context.job!.id;
    await world.until('both jobs are on record', () => !!world.conveyor.job(heldJob) && !!world.conveyor.job(lostJob));
    const bg = world.background({ config, holds: (jobId) => jobId === heldJob });
    bg.start();
    await world.advance(1_000);
    await world.advance(1_000);
    expect(world.conveyor.task(lost)?.state).toBe('analysis.working.queued');
    await world.advance(3_000);
    expect(world.conveyor.task(lost)?.state).toBe('analysis.retrying');
    expect(world.conveyor.job(lostJob)).toMatchObject({ status: 'lost', reason: expect.stringContaining('never reached a slot') });
    expect(world.conveyor.history(lost).at(-1)).toMatchObject({ source: 'reaper', event: { type: 'job.exited', jobId: lostJob, code: null } });
    // A job the scheduler holds waits for its slot as long as the slots are busy.
    for (let i = 0; i < 60; i++) await world.advance(60_000);
    expect(world.conveyor.task(held)?.state).toBe('analysis.working.queued');
  });

  it('refuses to start with a ceiling that does not exceed the job timeout plus the grace, naming the numbers', async () => {
    world = await makeWorld();
    const bg = world.background({ longestJobMs: 600_000, config: { reaper: { hardCeilingMs: 620_000, finalizeGraceMs: 60_000 } } });
    expect(() => bg.start()).toThrow(BackgroundStartError);
    expect(() => bg.start()).toThrow('the hard ceiling 620000 ms must exceed the longest job timeout 600000 ms plus the finalize grace 60000 ms (= 660000 ms)');
  });
});
