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
