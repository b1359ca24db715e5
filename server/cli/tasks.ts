import { costText, type JobRecord, type TaskSummary, type TaskView, type DecisionRecord, type EffectRecord, type Spend, type Usage } from '../../actors/index.ts';
import type { HistoryEntry } from '../../store/index.ts';
import { ApiClient, seg } from './client.ts';
import {UsageError, parse, remoteOptions, show, table, when, type Io } from './command.ts';

type Status = {
  bootId: string;
  startedAt: string;
  machine: { id: string; version: number };
  tasks: { total: number; byStage: Record<string, number>; live: number; sleeping: number };
  events: Record<string, number>;
  store: { seq: number; journalRecords: number; checkpoints: number };
  effects: { inFlight: unknown[] };
  supervisor?: { degraded?: boolean } | null;
};

const counts = (o: Record<string, number>) => Object.entries(o).map(([k, v]) => `${k} ${v}`).join(', ') || 'none';

export async function status(argv: string[], io: Io): Promise<number> {
  const { values } = parse(argv, remoteOptions, { min: 0, max: 0 });
  const s = await ApiClient.from(io, values).get<Status>('/status');
  show(io, s, () => [
    `conveyor up since ${s.startedAt} (boot ${s.bootId}), machine ${s.machine.id} v${s.machine.version}`,
    `tasks:   ${s.tasks.total} (${counts(s.tasks.byStage)}); ${s.tasks.live} live, ${s.tasks.sleeping} sleeping`,
    `events:  ${counts(s.events)}`,
    `store:   seq ${s.store.seq}, ${s.store.journalRecords} journal records, ${s.store.checkpoints} checkpoints`,
    `effects: ${s.effects.inFlight.length} in flight`,
    ...(s.supervisor ? [`background: ${s.supervisor.degraded ? 'DEGRADED' : 'healthy'}`] : []),
  ].join('\n'));
  return 0;
}

export async function tasks(argv: string[], io: Io): Promise<number> {
  const { values } = parse(argv, { ...remoteOptions, stage: { type: 'string' }, repo: { type: 'string' }, status: { type: 'string' } }, { min: 0, max: 0 });
  const list = await ApiClient.from(io, values).all<TaskSummary>('/tasks', 'tasks', { stage: values.stage, repo: values.repo, status: values.status });
  show(io, list, (l) => (l.length === 0 ? 'no tasks' : table(['ID', 'STAGE', 'STATE', 'REPO', 'TITLE'], l.map((t) => [t.id, t.stage, t.state, t.repo, t.title]))));
  return 0;
}

type TaskAnswer = { task: TaskView; jobs: JobRecord[]; spend?: Spend; decisions: DecisionRecord[]; effects: EffectRecord[]; waitingOn: string[] };

const tokens = (u: Usage) => `${u.inputTokens} in, ${u.outputTokens} out, cache ${u.cacheReadTokens} read / ${u.cacheWriteTokens} written`;

function describeTask(a: TaskAnswer): string {
  const t = a.task;
  const lines = [
    `${t.id}  ${t.title}`,
    `  repo ${t.repo}, branch ${t.branch}${t.trackerIssueId ? `, issue ${t.trackerIssueId}` : ''}`,
    `  state ${t.state} (${t.status}), tags ${t.tags.join(', ') || 'none'}, created ${when(t.createdAt)}`,
  ];
  if (t.pending.hold) lines.push(`  on hold: ${t.pending.hold.reason}`);
  if (t.pending.deadline) lines.push(`  deadline ${when(t.pending.deadline)}`);
  if (a.waitingOn.length) lines.push(`  waiting on ${a.waitingOn.join(', ')}`);
  const stages = Object.entries(a.spend?.byStage ?? {});
  if (a.spend && stages.length > 0) {
    lines.push(`  spent ${costText(a.spend.total)}; tokens ${tokens(a.spend.total)}`);
    for (const [stage, u] of stages) lines.push(`    ${stage}: ${costText(u)}; tokens ${tokens(u)}`);
  }
  for (const d of a.decisions) lines.push(`  decision ${d.id}: ${d.question}`, `    options: ${d.options.map((o) => JSON.stringify(o)).join(', ')}`);
  if (a.jobs.length) lines.push('', table(['JOB', 'STAGE', 'ATTEMPT', 'STATUS', 'EXIT', 'COST'], a.jobs.map((j) => [j.id, j.stage, String(j.attempt), j.status, j.exitCode == null ? '-' : String(j.exitCode), j.usage ? costText(j.usage) : '-'])));
  if (a.effects.length) lines.push('', table(['EFFECT', 'STATUS', 'KEY'], a.effects.map((e) => [e.effect, e.status, e.key])));
  return lines.join('\n');
}

export async function showTask(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(argv, remoteOptions, { min: 1, max: 1 });
  const answer = await ApiClient.from(io, values).get<TaskAnswer>(`/tasks/${seg(positionals[0]!)}`);
  show(io, answer, describeTask);
  return 0;
}

export async function history(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(argv, remoteOptions, { min: 1, max: 1 });
  const entries = await ApiClient.from(io, values).all<HistoryEntry>(`/tasks/${seg(positionals[0]!)}/history`, 'history');
  show(io, entries, (l) =>
    l.map((h) => `${when(h.at)}  ${h.source.padEnd(10)} ${h.event.type.padEnd(22)} ${h.accepted ? `${h.from || 'new'} → ${h.to}` : `ignored: ${h.reason ?? ''}`}`).join('\n'),
  );
  return 0;
}

const operatorEvents = ['hold', 'resume', 'cancel', 'retry'] as const;

export async function event(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(argv, { ...remoteOptions, reason: { type: 'string' }, by: { type: 'string' } }, { min: 2, max: 2 });
  const [id, type] = positionals as [string, string];
  if (!operatorEvents.includes(type as never)) throw new UsageError(`the event must be one of ${operatorEvents.join(', ')}, not ${type}`);
  const body = { type, ...(values.reason ? { reason: values.reason } : {}), ...(values.by ? { by: values.by } : {}) };
  const answer = await ApiClient.from(io, values).post<{ outcome: { status: string }; task: TaskView }>(`/tasks/${seg(id)}/events`, body);
  show(io, answer, (a) => `task ${id}: ${type} ${a.outcome.status}; now ${a.task.state}`);
  return 0;
}
