import { randomBytes } from 'node:crypto';
import { nodeFileSystem, type FileSystem } from '../store/index.ts';
import { systemClock, type Clock } from './clock.ts';
import { runCommand, type CommandExit } from './effects/run-command.ts';
import { realGit, type GitWorkbench } from './work/git-workbench.ts';

/** Random bytes: task and boot ids, job tokens, backup names. */
export type RandomBytes = (size: number) => Buffer;

/** Runs a command line (no shell) to its end; never throws. */
export type RunCommand = (argv: readonly string[], opts: { cwd: string; env: Record<string, string>; timeoutMs: number }) => Promise<CommandExit>;

/**
 * Every contact conveyor has with the world (ARCHITECTURE invariant 7): time, randomness, files, git,
 * commands, and HTTP to the tracker, the forge and the notification webhook. Agents reach processes
 * through their executors, the reaper through its `alive` and `kill`. Production wires the real ones
 * in server/main.ts; the simulator (sim/) wires simulated ones.
 */
export interface World {
  clock: Clock;
  randomBytes: RandomBytes;
  fs: FileSystem;
  git: GitWorkbench;
  runCommand: RunCommand;
  fetch: typeof fetch;
}

/** The real world, with git working under `dataDir`. */
export function systemWorld(dataDir: string): World {
  return { clock: systemClock, randomBytes: (n) => randomBytes(n), fs: nodeFileSystem, git: realGit(dataDir), runCommand, fetch: globalThis.fetch };
}

const ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyz';

/** An id of `length` characters of [0-9a-z] drawn from the world's randomness. */
export function randomId(random: RandomBytes, length: number): string {
  const bytes = random(length);
  let id = '';
  // 252 is the largest multiple of 36 under 256: bytes above it would bias the first characters.
  for (let i = 0; id.length < length; i++) {
    const b = i < bytes.length ? bytes[i]! : random(1)[0]!;
    if (b < 252) id += ALPHABET[b % 36];
  }
  return id;
}
