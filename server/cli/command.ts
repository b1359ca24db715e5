import { parseArgs, type ParseArgsConfig } from 'node:util';

/** Wrong arguments: the command prints its usage and exits 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** The command ran and failed: it prints the message and exits 1. */
export class CommandFailure extends Error {
  override name = 'CommandFailure';
}

/** What a command reaches of its process: output streams and the environment. */
export interface Io {
  out(text: string): void;
  err(text: string): void;
  env: NodeJS.ProcessEnv;
  /** Whether --json was given: machine-readable output on stdout. */
  json: boolean;
}

/** What a subcommand does with its arguments; resolves with its exit code. */
export type Run = (argv: string[], io: Io) => Promise<number>;

/** One subcommand: its usage line, a one-line summary, and its code, loaded only when it runs. */
export interface Command {
  usage: string;
  summary: string;
  load(): Promise<Run>;
}

type Options = NonNullable<ParseArgsConfig['options']>;

/** Flags every command that talks to a running conveyor understands. */
export const remoteOptions = {
  url: { type: 'string' },
  data: { type: 'string' },
} as const satisfies Options;

/** Parses a command's arguments strictly; anything unknown or missing is a usage error. */
export function parse<O extends Options>(argv: string[], options: O, positionals: { min: number; max: number }) {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const n = parsed.positionals.length;
  if (n < positionals.min) throw new UsageError(`expected ${positionals.min} argument${positionals.min === 1 ? '' : 's'}, got ${n}`);
  if (n > positionals.max) throw new UsageError(`unexpected argument ${parsed.positionals[positionals.max]}`);
  return parsed;
}

/** Prints a value as JSON under --json, else as the human text made of it. */
export function show<T>(io: Io, value: T, human: (value: T) => string): void {
  io.out(io.json ? `${JSON.stringify(value, null, 2)}\n` : ensureNewline(human(value)));
}

function ensureNewline(text: string): string {
  return text === '' || text.endsWith('\n') ? text : `${text}\n`;
}

/** Columns padded to their widest cell; the last column is not padded. */
export function table(header: string[], rows: string[][]): string {
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  return all.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ').trimEnd()).join('\n');
}

/** An ISO time for a stored millisecond timestamp. */
export const when = (ms: number | null | undefined) => (typeof ms === 'number' ? new Date(ms).toISOString() : '-');
