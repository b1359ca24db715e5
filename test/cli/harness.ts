import { spawn, type ChildProcess } from 'node:child_process';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { serve, type ServerType } from '@hono/node-server';
import { makeGitApp, type GitApp } from '../decisions/git-app.ts';
import { API_TOKEN } from '../support/http-fixtures.ts';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = 'server/cli/conveyor.mjs';

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `conveyor <args>` as its own process, the way an operator's shell does, and waits for it to exit. */
export function conveyorCli(args: string[], env: NodeJS.ProcessEnv = {}, opts: { timeoutMs?: number; onStdout?: (text: string, child: ChildProcess) => void } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    // Only what the test names: no token or data directory leaks in from the environment running the tests.
    const { CONVEYOR_API_TOKEN: _t, CONVEYOR_DATA: _d, CONVEYOR_URL: _u, CONVEYOR_CONFIG: _c, ...base } = process.env;
    const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      opts.onStdout?.(stdout, child);
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`conveyor ${args.join(' ')} did not exit within ${opts.timeoutMs ?? 30_000} ms\n${stdout}\n${stderr}`));
    }, opts.timeoutMs ?? 30_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** A conveyor with a workbench on a real bare remote, served over HTTP on loopback. */
export interface ServedApp extends GitApp {
  url: string;
  /** The environment a CLI process needs to reach it. */
  env: NodeJS.ProcessEnv;
}

export async function serveGitApp(opts: Parameters<typeof makeGitApp>[0] = {}): Promise<ServedApp> {
  const t = await makeGitApp(opts);
  let server!: ServerType;
  const info = await new Promise<AddressInfo>((resolve) => {
    server = serve({ fetch: t.app.fetch, port: 0, hostname: '127.0.0.1' }, resolve);
  });
  const url = `http://127.0.0.1:${info.port}`;
  return {
    ...t,
    url,
    env: { CONVEYOR_URL: url, CONVEYOR_API_TOKEN: API_TOKEN },
    close: async () => {
      await new Promise<void>((resolve) => {
        (server as Server).closeAllConnections();
        server.close(() => resolve());
      });
      await t.close();
    },
  };
}
