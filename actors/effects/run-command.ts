import { spawn } from 'node:child_process';
import { childEnvironment } from '../executors/index.ts';

/** How a command ended: its exit code (null when killed or it could not start) and the tail of its output. */
export interface CommandExit {
  code: number | null;
  output: string;
  error?: string;
}

const TAIL_BYTES = 4096;

/** Runs a command line (no shell) with the allowlisted environment plus `env`, to its end, killing it after `timeoutMs`; never throws. */
export function runCommand(argv: readonly string[], opts: { cwd: string; env: Record<string, string>; timeoutMs: number }): Promise<CommandExit> {
  const [file, ...args] = argv;
  if (!file) return Promise.resolve({ code: null, output: '', error: 'run-command: empty command' });
  return new Promise((resolve) => {
    let output = '';
    const keep = (chunk: Buffer) => {
      output = (output + chunk.toString('utf8')).slice(-TAIL_BYTES);
    };
    const child = spawn(file, args, { cwd: opts.cwd, env: childEnvironment(opts.env), stdio: ['ignore', 'pipe', 'pipe'] });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.timeoutMs);
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.once('error', (e) => {
      clearTimeout(timer);
      resolve({ code: null, output, error: `run-command: cannot run ${file}: ${e.message}` });
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      const error = timedOut ? `run-command: ${file} ran past ${opts.timeoutMs} ms and was killed` : signal ? `run-command: ${file} killed by ${signal}` : undefined;
      resolve({ code, output, ...(error ? { error } : {}) });
    });
  });
}
