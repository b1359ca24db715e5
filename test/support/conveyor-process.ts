import { spawn, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

// A real conveyor process (node --import tsx server/main.ts) on loopback, for tests that kill it with SIGKILL.

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface ConveyorProcess {
  child: ChildProcess;
  base: string;
  exited: Promise<void>;
}

const children = new Set<ChildProcess>();

/** Starts conveyor on a free port with the configuration written beside its data; resolves once it listens. */
export async function startConveyor(dataDir: string, config: unknown, env: Record<string, string>): Promise<ConveyorProcess> {
  const configPath = join(dataDir, 'conveyor.config.json');
  await writeFile(configPath, JSON.stringify(config));
  const args = ['--import', 'tsx', 'server/main.ts', '--port', '0', '--host', '127.0.0.1', '--data', dataDir, '--config', configPath];
  const child = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  const exited = new Promise<void>((resolve) => child.once('exit', () => {
    children.delete(child);
    resolve();
  }));
  let output = '';
  const base = await new Promise<string>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const m = /listening on (http:\/\/[^\s]+)/.exec(output);
      if (m) resolve(m[1]!);
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.once('exit', (code, signal) => reject(new Error(`conveyor exited (${code ?? signal}) before listening:\n${output}`)));
  });
  return { child, base, exited };
}

/** SIGKILL, and waits until the process is gone. */
export async function killConveyor(server: ConveyorProcess): Promise<void> {
  server.child.kill('SIGKILL');
  await server.exited;
}

/** Kills every conveyor still running, whatever state a failed test left it in. */
export async function killAllConveyors(): Promise<void> {
  const running = [...children];
  for (const child of running) child.kill('SIGKILL');
  await Promise.all(running.map((c) => new Promise((resolve) => (c.exitCode !== null || c.signalCode !== null ? resolve(null) : c.once('exit', resolve)))));
}

/** Calls the process's API with its bearer token: GET, or POST with a JSON body; fails the test on a non-2xx answer. */
export async function processApi<T>(server: ConveyorProcess, token: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${server.base}/api${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (res.status >= 300) throw new Error(`conveyor-process: ${path} answered ${res.status}: ${await res.text()}`);
  return (await res.json()) as T;
}

/** Polls `probe` until it gives a value, on a wall-clock deadline (a busy machine is slow, not wrong). */
export async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`conveyor-process: ${what} did not happen in ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Sends a signed webhook delivery to the process; its status and JSON answer. */
export async function deliverTo(server: ConveyorProcess, d: { path: string; headers: Record<string, string>; body: string }): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${server.base}${d.path}`, { method: 'POST', headers: d.headers, body: d.body });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}
