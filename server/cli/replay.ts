import type { GuardCheck } from '../../actors/index.ts';
import { ApiClient, seg } from './client.ts';
import { parse, remoteOptions, show, UsageError, when, type Io } from './command.ts';

/** One replayed step as GET /api/tasks/:id/replay answers it. */
interface ReplayStep {
  n: number;
  at: number;
  source: string;
  event: { type: string; [key: string]: unknown };
  accepted: boolean;
  reason?: string;
  from: string;
  to: string;
  moved: boolean;
  guards: GuardCheck[];
}

const guardText = (g: GuardCheck) => `${g.passed ? '✓' : '✗'} ${g.guard}${g.params === undefined ? '' : `(${Object.values(g.params as object).join(', ')})`}`;

function describeStep(s: ReplayStep): string {
  const head = `#${String(s.n).padEnd(4)} ${when(s.at)}  ${s.source.padEnd(10)} ${s.event.type.padEnd(24)}`;
  const move = s.moved ? `${s.from || 'new'} → ${s.to}` : s.accepted ? `note, stays in ${s.to}` : `ignored in ${s.from}: ${s.reason ?? ''}`;
  const guards = s.guards.length > 0 ? `\n       guards: ${s.guards.map(guardText).join(', ')}` : '';
  return `${head} ${move}${guards}`;
}

/** `conveyor replay <task> [--to n]`: the task's history folded step by step, with the guards that decided each. */
export async function replay(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(argv, { ...remoteOptions, to: { type: 'string' } }, { min: 1, max: 1 });
  if (values.to !== undefined && !/^[1-9][0-9]*$/.test(values.to)) throw new UsageError(`--to takes a step number from 1, not ${values.to}`);
  const steps = await ApiClient.from(io, values).all<ReplayStep>(`/tasks/${seg(positionals[0]!)}/replay`, 'steps', { to: values.to });
  show(io, steps, (l) => l.map(describeStep).join('\n'));
  return 0;
}
