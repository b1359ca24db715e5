import { readdirSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { systemClock } from './types.ts';
import type { Clock, JobExit, RunningJob } from './types.ts';

// USER_HZ is 100 on every mainstream Linux architecture; /proc/<pid>/stat counts start time in it.
const USER_HZ = 100;
// A reused pid belongs to a process that started after ours ended; within this slack the
// coarse clocks involved cannot tell, so such a reuse goes unnoticed.
const START_SLACK_MS = 2000;
const GROUP_POLL_MS = 50;
const KILL_WAIT_MS = 1000;

interface ProcStat {
  state: string;
  pgrp: number;
  startTicks: number;
}

function readProcStat(pid: number): ProcStat | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may hold spaces and parentheses; the fields after its last ')' do not.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    const state = fields[0];
    const pgrp = Number(fields[2]);
    const startTicks = Number(fields[19]);
    if (state === undefined || !Number.isFinite(pgrp) || !Number.isFinite(startTicks)) return null;
    return { state, pgrp, startTicks };
  } catch {
    return null;
  }
}

function startedAtOf(stat: ProcStat): number | null {
  try {
    const uptimeSec = Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
    if (!Number.isFinite(uptimeSec)) return null;
    return Date.now() - (uptimeSec - stat.startTicks / USER_HZ) * 1000;
  } catch {
    return null;
  }
}

/** A relay's record of how its agent ended, as read back from its exit file. */
export type ExitFileRead =
  | { kind: 'ok'; exit: Extract<JobExit, { kind: 'exited' | 'spawn_failed' }> }
  | { kind: 'missing' }
  | { kind: 'error'; message: string };

/** Reads the exit file a job's relay (relay.mjs) writes once its agent has ended; failures are values. */
export function readExitFile(path: string): ExitFileRead {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'missing' };
    return { kind: 'error', message: `executors: cannot read exit file ${path}: ${(err as Error).message}` };
  }
  const record = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>;
  const { code, signal, finishedAt, error } = record;
  const valid =
    (code === null || Number.isInteger(code)) &&
    (signal === null || typeof signal === 'string') &&
    typeof finishedAt === 'number' &&
    Number.isFinite(finishedAt) &&
    (error === undefined || typeof error === 'string');
  if (!valid) return { kind: 'error', message: `executors: exit file ${path} is not a relay's record` };
  if (typeof error === 'string') return { kind: 'ok', exit: { kind: 'spawn_failed', error, finishedAt } };
  return { kind: 'ok', exit: { kind: 'exited', code: code as number | null, signal: signal as string | null, finishedAt } };
}

function validPid(pid: number): boolean {
  // 0 and negative numbers would address process groups: never let them through.
  return Number.isSafeInteger(pid) && pid > 0;
}

/** When a process started, in wall-clock ms, read from /proc; null where /proc is not available. */
export function processStartedAt(pid: number): number | null {
  if (!validPid(pid)) return null;
  const stat = readProcStat(pid);
  return stat === null ? null : startedAtOf(stat);
}

/**
 * Whether a process is alive: `kill(pid, 0)` (EPERM counts as alive), minus zombies; given the
 * wall-clock ms at which it was started, a process that began later is a reused pid and not ours.
 */
export function isAlive(pid: number, startedAt?: number): boolean {
  if (!validPid(pid)) return false;
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const stat = readProcStat(pid);
  // Without /proc (macOS) the signal's answer is all there is.
  if (stat === null) return true;
  if (stat.state === 'Z' || stat.state === 'X') return false;
  if (startedAt !== undefined) {
    const began = startedAtOf(stat);
    if (began !== null && began > startedAt + START_SLACK_MS) return false;
  }
  return true;
}

/** Whether the process leads its own process group (as every job conveyor spawns does). */
export function leadsGroup(pid: number): boolean {
  return validPid(pid) && readProcStat(pid)?.pgrp === pid;
}

// Zombies answer signals until reaped, and an init that never reaps (common in containers)
// would keep a dead group present forever; so where /proc exists, a group needs a live member.
function groupHasLiveMember(pgid: number): boolean {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return true;
  }
  for (const entry of entries) {
    const pid = Number(entry);
    if (!validPid(pid)) continue;
    const stat = readProcStat(pid);
    if (stat !== null && stat.pgrp === pgid && stat.state !== 'Z' && stat.state !== 'X') return true;
  }
  return false;
}

function signal(target: number, sig: NodeJS.Signals | 0): boolean {
  try {
    process.kill(target, sig);
    return true;
  } catch (err) {
    // EPERM: something is there that we may not signal; treat it as present.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function waitGone(present: () => boolean, ms: number): Promise<boolean> {
  for (let waited = 0; present(); waited += GROUP_POLL_MS) {
    if (waited >= ms) return false;
    await sleep(GROUP_POLL_MS);
  }
  return true;
}

/**
 * Sends SIGTERM to a process group (or a single process), then SIGKILL after graceMs if anything
 * is left; resolves once it is gone or a last second after SIGKILL has passed. Never rejects.
 */
export async function terminate(pid: number, graceMs: number, group: boolean): Promise<void> {
  if (!validPid(pid)) return;
  const target = group ? -pid : pid;
  const present = group ? () => signal(target, 0) && groupHasLiveMember(pid) : () => isAlive(pid);
  if (!signal(target, 'SIGTERM')) return;
  if (await waitGone(present, graceMs)) return;
  signal(target, 'SIGKILL');
  await waitGone(present, KILL_WAIT_MS);
}

/** Options of `reattach`. */
export interface ReattachOptions {
  /** Time between two looks at the pid; default 500 ms. */
  pollMs?: number;
  clock?: Clock;
  killGraceMs?: number;
  /** The relay's exit file of the job; where it exists once the process is gone, it gives the real exit. */
  exitFile?: string;
}

/**
 * Watches a job's process after a conveyor restart by polling its pid until it is gone, then
 * resolves the exit its relay recorded in `exitFile`, or `lost` without one: the exit code of a
 * process that is not our child cannot be waited for. Like a command job, whatever it left
 * running in its process group is killed then, without holding the exit back (`cleared` waits for it).
 */
export function reattach(pid: number, startedAt: number, options?: ReattachOptions): RunningJob;
export function reattach(pid: number, startedAt: number, pollMs?: number, options?: ReattachOptions): RunningJob;
export function reattach(
  pid: number,
  startedAt: number,
  pollOrOptions: number | ReattachOptions = {},
  more: ReattachOptions = {},
): RunningJob {
  const options = typeof pollOrOptions === 'number' ? { ...more, pollMs: pollOrOptions } : { ...more, ...pollOrOptions };
  const clock = options.clock ?? systemClock;
  const graceMs = options.killGraceMs ?? 3000;
  const pollMs = options.pollMs ?? 500;
  const { exitFile } = options;
  const group = isAlive(pid, startedAt) && leadsGroup(pid);
  let killing: Promise<void> | null = null;
  let done = false;
  let resolveExit: (exit: JobExit) => void = () => undefined;
  const exit = new Promise<JobExit>((resolve) => {
    resolveExit = resolve;
  });
  let resolveCleared: () => void = () => undefined;
  const cleared = new Promise<void>((resolve) => {
    resolveCleared = resolve;
  });
  const check = (): void => {
    if (done || isAlive(pid, startedAt)) return;
    done = true;
    clearInterval(timer);
    const finishedAt = clock.now();
    // A live process at pid that failed the identity check is a stranger: leave its group alone.
    // Otherwise the pid is free or a zombie, and no other group can own the number yet. The leftovers
    // are killed after the exit is known, not before: their grace never holds the exit back.
    const leftovers = group && !isAlive(pid) ? terminate(pid, graceMs, true) : null;
    void Promise.all([killing, leftovers]).then(() => resolveCleared());
    // The relay writes its record before it exits, so a missing one means it never got to.
    const recorded = exitFile === undefined ? null : readExitFile(exitFile);
    resolveExit(recorded?.kind === 'ok' ? recorded.exit : { kind: 'lost', finishedAt });
  };
  const timer = setInterval(check, Math.max(1, pollMs));
  setImmediate(check);
  return {
    pid,
    startedAt,
    exit,
    cleared,
    kill(_reason: string): void {
      // Check identity first so that a reused pid is never signalled.
      if (done || killing || !isAlive(pid, startedAt)) return;
      killing = terminate(pid, graceMs, group);
      void killing.then(check);
    },
  };
}
