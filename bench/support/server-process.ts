// A server of bench/ingest.ts as its own process: started as a user starts it, watched through /proc, stopped by signal.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** A running server process and the address it said it listens on. */
export interface ServerProcess {
  child: ChildProcess;
  url: string;
  /** From spawn to its "listening on" line, in ms. */
  startMs: number;
}

/** Spawns `node --import tsx <script> ...args` from the repository root and waits for its "listening on" line. */
export function startServer(script: string, args: string[], env: Record<string, string> = {}): Promise<ServerProcess> {
  const began = performance.now();
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-20_000);
      const m = /listening on (http:\/\/[^\s]+)/.exec(output);
      if (m) {
        child.stdout!.off('data', onData);
        // Keep draining, or a full pipe would stall the server's log writes.
        child.stdout!.resume();
        resolve({ child, url: m[1]!, startMs: performance.now() - began });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-20_000)));
    child.once('exit', (code, signal) => reject(new Error(`bench: ${script} exited (${code ?? signal}) before listening:\n${output}`)));
  });
}

/** Resident set size of a process, in bytes, from /proc (Linux). */
export async function rssBytes(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = /VmRSS:\s+(\d+) kB/.exec(status);
  if (!kb) throw new Error(`bench: no VmRSS for process ${pid}`);
  return Number(kb[1]) * 1024;
}

/** Stops a server with SIGTERM (a clean shutdown: drain, commit, checkpoint) and waits for it to exit. */
export function stopServer(server: ServerProcess): Promise<void> {
  const { child } = server;
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}
