import { CommandFailure, UsageError, type Command, type Io } from './command.ts';

// Each command group is loaded only when one of its commands runs: a command that talks HTTP does not
// pay for loading the runtime.
const commands: Record<string, Command> = {
  start: {
    usage: 'start [--port <n>] [--host <addr>] [--data <dir>] [--config <file>]',
    summary: 'run conveyor, as `npm start` does: with --config your pipeline, without it the demo',
    load: async () => (await import('./start.ts')).start,
  },
  status: {
    usage: 'status',
    summary: 'what a running conveyor is doing: tasks by stage, events, store, effects in flight',
    load: async () => (await import('./tasks.ts')).status,
  },
  tasks: {
    usage: 'tasks [--stage <stage>] [--repo <repo>] [--status active|done]',
    summary: 'the tasks, oldest first',
    load: async () => (await import('./tasks.ts')).tasks,
  },
  show: {
    usage: 'show <task>',
    summary: 'one task: state, hold, decisions it waits on, jobs and effects',
    load: async () => (await import('./tasks.ts')).showTask,
  },
  history: {
    usage: 'history <task>',
    summary: 'every event the task took or ignored, in order',
    load: async () => (await import('./tasks.ts')).history,
  },
  replay: {
    usage: 'replay <task> [--to <n>]',
    summary: 'the task replayed from its history, step by step: event, from, to, and the guards that decided',
    load: async () => (await import('./replay.ts')).replay,
  },
  event: {
    usage: 'event <task> hold|resume|cancel|retry [--reason <text>]',
    summary: 'steer a task; an event it does not take fails with the reason',
    load: async () => (await import('./tasks.ts')).event,
  },
  decisions: {
    usage: 'decisions [--all] [--task <task>]',
    summary: 'questions waiting for a human (every decision with --all)',
    load: async () => (await import('./decisions.ts')).decisions,
  },
  decide: {
    usage: 'decide <decision> <option> [--by <name>] [--answer <words>]',
    summary: 'answer a decision with one of its options',
    load: async () => (await import('./decisions.ts')).decide,
  },
  logs: {
    usage: 'logs <job> [--follow]',
    summary: "a job's log; --follow prints what it adds until the job ends",
    load: async () => (await import('./logs.ts')).logs,
  },
  alerts: {
    usage: 'alerts [--all] [--kind <kind>] [--task <task>]  |  alerts ack <alert> [--note <text>] [--by <name>]',
    summary: 'open alerts, newest first, with what to do (every alert with --all); ack acknowledges one',
    load: async () => (await import('./alerts.ts')).alerts,
  },
  store: {
    usage: 'store verify|repair|compact [--data <dir>] [--config <file>]',
    summary: "offline, on a stopped conveyor's data directory: check it, cut a damaged journal tail, or checkpoint it",
    load: async () => (await import('./store.ts')).store,
  },
  config: {
    usage: 'config check <file>',
    summary: 'validate a configuration without starting',
    load: async () => (await import('./config.ts')).config,
  },
  tracker: {
    usage: 'tracker states --config <file> [--project <id>]...',
    summary: "the tracker's workflow states with their ids, ready to paste into the configuration",
    load: async () => (await import('./config.ts')).tracker,
  },
  export: {
    usage: 'export <machine> --format stately|json|svg [--config <file>]',
    summary: "a machine's definition, offline (the task machine as the configuration's pipeline makes it)",
    load: async () => (await import('./export.ts')).exportMachine,
  },
};

function usage(): string {
  return [
    'usage: conveyor <command> [--json]',
    '',
    ...Object.values(commands).map((c) => `  ${c.usage}\n      ${c.summary}`),
    '',
    'Commands that talk to a running conveyor take --url (or CONVEYOR_URL, default http://127.0.0.1:8080)',
    'and the token from CONVEYOR_API_TOKEN or the secrets.json of --data (or CONVEYOR_DATA, default ./data).',
    'Exit codes: 0 ok, 1 failure, 2 usage.',
  ].join('\n');
}

/** Runs one command line; resolves with the exit code. */
export async function runCli(argv: string[], io: Omit<Io, 'json'>): Promise<number> {
  const json = argv.includes('--json');
  const args = argv.filter((a) => a !== '--json');
  const [name, ...rest] = args;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    io.out(`${usage()}\n`);
    return name === undefined ? 2 : 0;
  }
  const command = Object.hasOwn(commands, name) ? commands[name] : undefined;
  if (!command) {
    io.err(`conveyor: unknown command ${name}\n${usage()}\n`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    io.out(`usage: conveyor ${command.usage}\n  ${command.summary}\n`);
    return 0;
  }
  try {
    return await (await command.load())(rest, { ...io, json });
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`conveyor ${name}: ${e.message}\nusage: conveyor ${command.usage}\n`);
      return 2;
    }
    const message = e instanceof CommandFailure ? e.message : `conveyor ${name}: ${(e as Error).stack ?? String(e)}`;
    if (json) io.out(`${JSON.stringify({ error: { message } })}\n`);
    io.err(`${message}\n`);
    return 1;
  }
}

const io = { out: (t: string) => void process.stdout.write(t), err: (t: string) => void process.stderr.write(t), env: process.env };
const code = await runCli(process.argv.slice(2), io);
// Let stdout drain before exiting: a pipe may not have taken everything yet.
process.stdout.write('', () => process.exit(code));
