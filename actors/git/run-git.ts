import { execFile } from 'node:child_process';

/** The outcome of one git command; a git failure is a value, never an exception. */
export interface GitResult {
  ok: boolean;
  /** The exit code, or -1 when git could not be started, was killed or timed out. */
  code: number;
  stdout: string;
  stderr: string;
}

/** Options of one git command. */
export interface RunGitOptions {
  cwd: string;
  /** Extra environment, applied after conveyor's own. */
  env?: Record<string, string>;
  /** Kill the command after this long; a hung fetch must not hang a task. */
  timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 5 * 60_000;
const MAX_BUFFER = 64 * 1024 * 1024;

// Variables that point git at another repository; inherited from a hook or a shell they would
// make conveyor's commands act on the wrong repository.
const REPOSITORY_VARIABLES = [
  'GIT_DIR', 'GIT_WORK_TREE', 'GIT_INDEX_FILE', 'GIT_COMMON_DIR', 'GIT_OBJECT_DIRECTORY',
  'GIT_ALTERNATE_OBJECT_DIRECTORIES', 'GIT_NAMESPACE', 'GIT_PREFIX',
];

/** The environment conveyor runs git with: no prompts, a fixed identity, stable messages. */
export function gitEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of REPOSITORY_VARIABLES) delete env[name];
  return {
    ...env,
    GIT_TERMINAL_PROMPT: '0',
    GIT_EDITOR: 'true',
    GIT_MERGE_AUTOEDIT: 'no',
    GIT_AUTHOR_NAME: 'conveyor',
    GIT_AUTHOR_EMAIL: 'conveyor@localhost',
    GIT_COMMITTER_NAME: 'conveyor',
    GIT_COMMITTER_EMAIL: 'conveyor@localhost',
    LC_ALL: 'C',
    ...extra,
  };
}

/** Runs `git <args>` in `cwd` and resolves with its exit code and output. */
export function runGit(args: readonly string[], options: RunGitOptions): Promise<GitResult> {
  const timeout = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  return new Promise((resolve) => {
    execFile(
      'git',
      args,
      { cwd: options.cwd, env: gitEnv(options.env), timeout, maxBuffer: MAX_BUFFER, encoding: 'utf8' },
      (error, stdout, stderr) => {
        if (!error) {
          resolve({ ok: true, code: 0, stdout, stderr });
          return;
        }
        const code = typeof error.code === 'number' ? error.code : -1;
        let why = '';
        if (error.killed || error.signal) why = `run-git: git ${args[0] ?? ''} killed (${error.signal ?? 'timeout'}) after at most ${timeout} ms`;
        else if (typeof error.code === 'string') why = `run-git: cannot run git in ${options.cwd}: ${error.code}`;
        resolve({ ok: false, code, stdout: stdout ?? '', stderr: why ? `${stderr ?? ''}${why}\n` : (stderr ?? '') });
      },
    );
  });
}

/** A one-line reason from a failed result, prefixed with what was attempted. */
export function describeFailure(what: string, result: GitResult): string {
  const lines = `${result.stderr}\n${result.stdout}`.split('\n').map((line) => line.trim()).filter(Boolean);
  // git's own diagnosis is on its `fatal:` / `error:` lines; advice around them is noise in a reason.
  const diagnosis = lines.filter((line) => /^(fatal|error|run-git):/.test(line));
  const message = (diagnosis.length > 0 ? diagnosis : lines).slice(0, 3).join(' | ');
  return `${what} failed (exit ${result.code}): ${message || 'no output'}`;
}
