import type { Alert } from '../../actors/index.ts';
import { ApiClient, seg } from './client.ts';
import {UsageError, parse, remoteOptions, show, when, type Io } from './command.ts';

function describe(a: Alert): string {
  const ack = a.acknowledged ? `  acknowledged by ${a.acknowledged.by} at ${when(a.acknowledged.at)}${a.acknowledged.note ? `: ${a.acknowledged.note}` : ''}` : '';
  return [`${when(a.at)}  ${a.kind}${a.taskId ? `  task ${a.taskId}` : ''}  [${a.id}]`, `  ${a.message}`, `  → ${a.suggestedAction}`, ...(ack ? [ack] : [])].join('\n');
}

export async function alerts(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(
    argv,
    { ...remoteOptions, all: { type: 'boolean' }, kind: { type: 'string' }, task: { type: 'string' }, note: { type: 'string' }, by: { type: 'string' } },
    { min: 0, max: 2 },
  );
  const client = ApiClient.from(io, values);
  if (positionals.length > 0) {
    if (positionals[0] !== 'ack' || positionals.length !== 2) throw new UsageError('expected `alerts ack <alert>`');
    const id = positionals[1]!;
    const body = { by: values.by ?? io.env.USER ?? 'operator', ...(values.note ? { note: values.note } : {}) };
    const answer = await client.post<{ alert: Alert }>(`/alerts/${seg(id)}/ack`, body);
    show(io, answer, (a) => `acknowledged ${a.alert.id}`);
    return 0;
  }
  const list = await client.all<Alert>('/alerts', 'alerts', { status: values.all ? undefined : 'open', kind: values.kind, task: values.task });
  show(io, list, (l) => (l.length === 0 ? `no ${values.all ? '' : 'open '}alerts` : l.map(describe).join('\n')));
  return 0;
}
