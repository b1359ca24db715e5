import type { CommittedTransition, Conveyor, LogLine } from '../../actors/index.ts';

export interface ConsoleLogOptions {
  conveyor: Conveyor;
  log: LogLine;
  /** The tasks whose arrival at done the summary line waits for. */
  demoTaskIds: () => string[];
  /** How many demo tasks there are; the summary waits until that many are known and done. */
  expected: number;
  startedAt: number;
}

const TITLE_WIDTH = 44;

/**
 * Prints one compact line per stage change of any task (`demo-2 "Add rate limiting"  review → testing`),
 * rollbacks and failed jobs with their reason, and one summary line once every demo task is done.
 * Returns the function that stops following.
 */
export function followConveyor(o: ConsoleLogOptions): () => void {
  const { conveyor } = o;
  const order = conveyor.runtime.pipeline.stages.map((s) => s.id);
  const agentOf = new Map(conveyor.runtime.pipeline.stages.map((s) => [s.id, s.agent]));
  let summarized = false;

  const label = (taskId: string) => {
    const meta = conveyor.runtime.meta(taskId);
    const title = meta?.title ?? '';
    const short = title.length > TITLE_WIDTH ? `${title.slice(0, TITLE_WIDTH - 1)}…` : title;
    return `${(meta?.trackerIssueId ?? taskId).padEnd(8)} ${`"${short}"`.padEnd(TITLE_WIDTH + 2)}`;
  };

  const describe = (t: CommittedTransition): string | null => {
    const from = t.from.split('.')[0] ?? '';
    const to = t.to.split('.')[0] ?? '';
    const ctx = conveyor.runtime.contextOf(t.taskId);
    if (from === to) {
      if (t.to === `${to}.gating` && to === order[0]) return 'analysis ready; waiting for a human to approve';
      if (t.to.endsWith('.retrying')) {
        const attempt = ctx?.job?.attempt ?? 0;
        return `${agentOf.get(to) ?? 'agent'} job failed (${ctx?.lastFailure?.reason ?? 'no reason recorded'}); retrying, attempt ${attempt}/${ctx?.limits.maxJobAttempts ?? '?'}`;
      }
      return null;
    }
    if (to === 'escalated') return `${from} → escalated, waiting for a human: ${ctx?.escalation?.reason ?? 'no reason recorded'}`;
    if (to === 'recovery' && ctx?.failure) {
      const d = ctx.decision;
      return `${from} → ${t.to}: ${ctx.failure.reason}\ndecision ${d?.id ?? '?'} (${d?.options.join(' / ') ?? ''}) waits for a human`;
    }
    if (to === 'onHold') return `${from} → on hold: ${ctx?.hold?.reason ?? ''}`;
    const back = order.indexOf(to) >= 0 && order.indexOf(from) > order.indexOf(to);
    if (back && ctx) {
      // "review requested changes: <comments>": the headline on the line, the details indented below it.
      const reason = ctx.lastFailure?.reason ?? `${from} failed`;
      const cut = reason.indexOf(': ');
      const headline = cut < 0 ? reason : reason.slice(0, cut);
      const details = cut < 0 ? '' : `\n${reason.slice(cut + 2)}`;
      return `${headline} → back to ${to} (retry ${ctx.retries}/${ctx.limits.maxRetries})${details}`;
    }
    return `${from} → ${to}`;
  };

  const summarize = () => {
    if (summarized) return;
    const ids = o.demoTaskIds();
    if (ids.length < o.expected || ids.some((id) => conveyor.runtime.stageOf(id) !== 'done')) return;
    summarized = true;
    const seconds = Math.round((Date.now() - o.startedAt) / 1000);
    o.log(`demo: all ${words(o.expected)} demo tasks reached done in ${seconds} s`);
  };

  return conveyor.runtime.onCommitted((t) => {
    // Listeners run inside the runtime's commit path: a printing problem must never fail a transition.
    try {
      const [first, ...more] = describe(t)?.split('\n') ?? [];
      if (first === undefined) return;
      const prefix = label(t.taskId);
      // Structured output carries the task and its stage; the readable line stays as the demo prints it.
      const fields = { taskId: t.taskId, stage: t.to.split('.')[0] ?? '', from: t.from, to: t.to };
      o.log(`${prefix} ${first}`, fields);
      for (const line of more) o.log(`${' '.repeat(prefix.length)}   ${line}`, fields);
      if (t.to === 'done') summarize();
    } catch {
      // The console is best effort.
    }
  });
}

function words(n: number): string {
  return ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine', 'ten'][n] ?? String(n);
}
