import { resolve } from 'node:path';
import { loadConfig, TrackerClient, type ConveyorConfig, type TrackerState } from '../../actors/index.ts';
import {CommandFailure, UsageError, parse, show, table, type Io } from './command.ts';

/** The configuration at a path, or a CommandFailure listing every problem with it. */
export function readConfigOrFail(path: string): ConveyorConfig {
  const result = loadConfig(resolve(path));
  if (!result.ok) throw new CommandFailure(`${path} is not a valid configuration:\n  ${result.errors.join('\n  ')}`);
  return result.config;
}

export async function config(argv: string[], io: Io): Promise<number> {
  const { positionals } = parse(argv, {}, { min: 2, max: 2 });
  if (positionals[0] !== 'check') throw new UsageError(`config takes check, not ${positionals[0]}`);
  const file = positionals[1]!;
  const result = loadConfig(resolve(file));
  show(io, result.ok ? { ok: true, file } : { ok: false, file, errors: result.errors }, (r) =>
    r.ok
      ? `${file}: valid (${result.ok ? `${result.config.repositories.length} repositories, ${Object.keys(result.config.agents).length} agents` : ''})`
      : `${file}: not valid\n  ${r.errors?.join('\n  ')}`,
  );
  return result.ok ? 0 : 1;
}

type Meaning = NonNullable<NonNullable<ConveyorConfig['tracker']>['states']>[string]['meaning'];

/** A first guess at what a tracker state means to conveyor, from its group and name; the operator checks it. */
function guessMeaning(s: TrackerState): Meaning {
  const name = s.name.toLowerCase();
  if (s.group === 'completed') return 'done';
  if (s.group === 'cancelled') return 'cancelled';
  if (/block/.test(name)) return 'blocked';
  if (/input|question|info/.test(name)) return 'needs_input';
  if (/approv/.test(name)) return 'approved';
  if (/reject/.test(name)) return 'rejected';
  if (s.group === 'started' && /progress|start|doing/.test(name)) return 'start';
  return 'other';
}

async function trackerStates(io: Io, argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, { config: { type: 'string' }, project: { type: 'string', multiple: true } }, { min: 1, max: 1 });
  if (positionals[0] !== 'states') throw new UsageError(`tracker takes states, not ${positionals[0]}`);
  const path = values.config ?? io.env.CONVEYOR_CONFIG;
  if (!path) throw new UsageError('tracker states needs --config <file> (or CONVEYOR_CONFIG): the tracker address and token come from it');
  const t = readConfigOrFail(path).tracker;
  if (!t?.apiBase || !t.workspace) throw new CommandFailure(`${path}: tracker.apiBase and tracker.workspace name the tracker to ask; set them first`);
  const token = io.env[t.tokenEnv];
  if (!token) throw new CommandFailure(`the tracker token is read from ${t.tokenEnv}, which is not set`);
  const projects = values.project ?? Object.keys(t.projectRepos);
  if (projects.length === 0) throw new UsageError('no project to ask: pass --project <id> or list projects in tracker.projectRepos');
  const client = new TrackerClient({ apiBase: t.apiBase, workspace: t.workspace, token, now: () => Date.now(), statesTtlMs: 0 });
  const found: { project: string; states: TrackerState[] }[] = [];
  for (const project of projects) {
    const result = await client.states(project);
    if (!result.ok) throw new CommandFailure(`tracker: states of project ${project}: ${result.error}`);
    found.push({ project, states: result.value });
  }
  const snippet = Object.fromEntries(found.flatMap((f) => f.states.map((s) => [s.id, { group: s.group, meaning: guessMeaning(s), name: s.name }])));
  show(io, { projects: found, states: snippet }, (r) =>
    [
      ...r.projects.map((p) => `project ${p.project}\n${table(['ID', 'NAME', 'GROUP'], p.states.map((s) => [s.id, s.name, s.group]))}`),
      '',
      '"states" for tracker in the configuration (check each meaning: start, approved, rejected, blocked, needs_input, done, cancelled, other):',
      JSON.stringify({ states: r.states }, null, 2).slice(1, -1).trim(),
    ].join('\n'),
  );
  return 0;
}

export const tracker = (argv: string[], io: Io) => trackerStates(io, argv);
