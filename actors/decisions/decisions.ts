import type { Runtime } from '../runtime.ts';
import type { SendOutcome } from '../types.ts';
import type { DecisionRecord } from './decision-record.ts';
import { AGENT_QUESTION, REPLY } from '../../machines/index.ts';

export type ResolveResult =
  | { ok: true; decision: DecisionRecord; outcome: SendOutcome }
  | { ok: false; code: 'not_found' | 'already_closed' | 'invalid_option' | 'answer_required' | 'refused'; message: string; options?: string[] };

/** Decisions (SPEC R25): listed, read, and resolved by routing the answer to the task that asked. */
export class Decisions {
  constructor(private readonly runtime: Runtime) {}

  /** Decisions of one status and/or one task, oldest first. */
  list(status?: DecisionRecord['status'], taskId?: string): DecisionRecord[] {
    return this.runtime
      .list<DecisionRecord>('decisions')
      .filter((d) => (!status || d.status === status) && (!taskId || d.taskId === taskId))
      .sort((a, b) => a.openedAt - b.openedAt);
  }

  get(id: string): DecisionRecord | undefined {
    return this.runtime.read<DecisionRecord>('decisions', id);
  }

  /**
   * Resolves a decision: an option not in its list is refused, raises an alert and leaves it pending;
   * the resolution is committed with the task's transition, or not at all.
   */
  async resolve(id: string, option: string, by: string | undefined, answer?: string): Promise<ResolveResult> {
    const decision = this.get(id);
    if (!decision) return { ok: false, code: 'not_found', message: `decision ${id} does not exist` };
    if (decision.status !== 'pending') {
      return { ok: false, code: 'already_closed', message: `decision ${id} is already ${decision.status}${decision.resolution ? ` (${decision.resolution})` : ''}` };
    }
    const at = this.runtime.clock.now();
    if (!decision.options.includes(option)) {
      await this.runtime.write([
        { kind: 'put', collection: 'alerts', id: `invalid-option:${id}:${at}`, value: { kind: 'invalid_decision_option', at, decisionId: id, taskId: decision.taskId, option, by } },
      ]);
      return { ok: false, code: 'invalid_option', message: `"${option}" is not an option of decision ${id}; valid options: ${decision.options.join(', ')}`, options: decision.options };
    }
    // A reply to an agent's question is its words: without them the agent would be told nothing.
    if (option === REPLY && decision.contextKey === AGENT_QUESTION && !answer?.trim()) {
      return { ok: false, code: 'answer_required', message: `decision ${id}: "${REPLY}" needs the reply's words in answer` };
    }
    const words = answer?.trim() ? { answer: answer.trim() } : {};
    const resolved: DecisionRecord = { ...decision, status: 'resolved', resolution: option, ...words, by, resolvedAt: at };
    const outcome = await this.runtime.send(
      decision.taskId,
      { type: 'decision.resolved', decisionId: id, contextKey: decision.contextKey, option, by, ...words },
      { source: 'decision', withTransition: [{ kind: 'put', collection: 'decisions', id, value: resolved }] },
    );
    if (outcome.status !== 'accepted') {
      const reason = outcome.status === 'ignored' ? outcome.reason : outcome.status;
      return { ok: false, code: 'refused', message: `task ${decision.taskId} did not take the answer: ${reason}` };
    }
    return { ok: true, decision: resolved, outcome };
  }
}
