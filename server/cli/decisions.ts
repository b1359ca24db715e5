import type { DecisionRecord, TaskView } from '../../actors/index.ts';
import { ApiClient, seg } from './client.ts';
import {parse, remoteOptions, show, when, type Io } from './command.ts';

export async function decisions(argv: string[], io: Io): Promise<number> {
  const { values } = parse(argv, { ...remoteOptions, all: { type: 'boolean' }, task: { type: 'string' } }, { min: 0, max: 0 });
  const list = await ApiClient.from(io, values).all<DecisionRecord>('/decisions', 'decisions', { status: values.all ? undefined : 'pending', task: values.task });
  show(io, list, (l) =>
    l.length === 0
      ? `no ${values.all ? '' : 'pending '}decisions`
      : l
          .map((d) => [
            `${d.id}  task ${d.taskId}  ${d.status}${d.resolution ? ` (${d.resolution}${d.by ? ` by ${d.by}` : ''})` : ''}  opened ${when(d.openedAt)}`,
            `  ${d.question}`,
            `  options: ${d.options.map((o) => JSON.stringify(o)).join(', ')}`,
          ].join('\n'))
          .join('\n'),
  );
  return 0;
}

export async function decide(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(argv, { ...remoteOptions, by: { type: 'string' }, answer: { type: 'string' } }, { min: 2, max: 2 });
  const [id, option] = positionals as [string, string];
  const answer = await ApiClient.from(io, values).post<{ decision: DecisionRecord; task?: TaskView }>(`/decisions/${seg(id)}/resolve`, {
    option,
    ...(values.by ? { by: values.by } : {}),
    // A reply to an agent's question (option Reply) is its words.
    ...(values.answer ? { answer: values.answer } : {}),
  });
  show(io, answer, (a) => `decision ${id} answered "${option}"; task ${a.decision.taskId} is now ${a.task?.state ?? 'gone'}`);
  return 0;
}
