/** An alert as stored: the raiser's own fields, with at least a kind and a time. */
export interface StoredAlert {
  kind: string;
  at: number;
  taskId?: string;
  /** A raiser may word its alert itself; otherwise the kind's wording below is used. */
  message?: string;
  suggestedAction?: string;
  acknowledged?: Acknowledgement;
  [field: string]: unknown;
}

export interface Acknowledgement {
  at: number;
  by: string;
  note?: string;
}

interface Wording {
  taskId: string | null;
  message: string;
  suggestedAction: string;
}

const str = (v: unknown): string => (typeof v === 'string' ? v : JSON.stringify(v));

/**
 * What each kind of alert means to an operator and what to do about it. Worded at read time, so alerts
 * recorded before a wording changed read the same as new ones.
 */
function wordingOf(a: StoredAlert): Wording {
  const task = typeof a.taskId === 'string' ? a.taskId : null;
  switch (a.kind) {
    case 'task_failed':
      return {
        taskId: task,
        message: `task ${task} failed in stage ${str(a.stage)}: ${str(a.reason)}`,
        suggestedAction: `Answer the task's pending decision (conveyor decisions); its local work is kept${a.backupRef ? ` at ${str(a.backupRef)}` : ''}.`,
      };
    case 'budget_exceeded':
      return {
        taskId: task,
        message: `task ${task} is escalated: ${str(a.reason)}`,
        suggestedAction: 'Raise limits.taskBudgetUsd (and restart conveyor), then retry the task; or cancel it.',
      };
    case 'dependency_cycle': {
      const cycle = Array.isArray(a.cycle) ? a.cycle.map(str) : [];
      return {
        taskId: task ?? cycle[0] ?? null,
        message: `dependency cycle ${cycle.join(' → ')}: every task in it is on hold`,
        suggestedAction: 'Declare the dependencies again without the cycle (POST /api/tasks/:id/dependencies), then resume the held tasks.',
      };
    }
    case 'invalid_decision_option':
      return {
        taskId: task,
        message: `decision ${str(a.decisionId)} was answered with "${str(a.option)}"${a.by ? ` by ${str(a.by)}` : ''}, which it does not offer; it is still pending`,
        suggestedAction: `Answer decision ${str(a.decisionId)} with one of its own options (GET /api/decisions/${str(a.decisionId)}).`,
      };
    case 'effect_unknown':
      return {
        taskId: task,
        message: `${str(a.effect)} of task ${task} was started by an earlier run and its outcome is unknown: ${str(a.reason)}`,
        suggestedAction: `Check in the outside system whether the ${str(a.effect)} happened, then answer the task's pending decision.`,
      };
    case 'unrouted_event':
      return {
        taskId: null,
        message: `a webhook event was not applied: ${str(a.reason)}`,
        suggestedAction: 'Check that the tracker project or forge repository maps to one task (configuration, branch, issue); send the change again or apply it as an operator event.',
      };
    case 'rate_limited':
      return {
        taskId: null,
        message: `the ${str(a.client)} answered ${str(a.status)} to ${str(a.method)} ${str(a.url)} and asked for a wait of ${Math.ceil(Number(a.retryAfterMs) / 1000)} s, past the budget of ${Math.ceil(Number(a.budgetMs) / 1000)} s: the call failed and is tried again later`,
        suggestedAction: `Check the ${str(a.client)} token's rate limit; call it less often (reconciler.intervalMs) or raise limits.rateLimitBudgetMs. conveyor_rate_limited_total counts every wait.`,
      };
    case 'supervisor_degraded':
      return {
        taskId: null,
        message: `background loops restarted ${str(a.restarts)} times within ${str(a.windowMs)} ms (limit ${str(a.maxRestarts)}): the runtime is degraded`,
        suggestedAction: 'Read the loops\' last errors (GET /api/background and the log), fix the cause; switch a failing loop off with POST /api/background/:name/disable meanwhile.',
      };
    default:
      return {
        taskId: task,
        message: typeof a.reason === 'string' ? `${a.kind}: ${a.reason}` : a.kind,
        suggestedAction: 'Read the alert\'s details and the task\'s history.',
      };
  }
}

/** The operator's view of an alert: task, kind, message, suggested action, and whether someone has seen to it. */
export interface Alert {
  id: string;
  kind: string;
  at: number;
  taskId: string | null;
  message: string;
  suggestedAction: string;
  status: 'open' | 'acknowledged';
  acknowledged: Acknowledgement | null;
  /** The raiser's own fields (cycle, decision, effect key, …). */
  details: Record<string, unknown>;
}

export function alertView(id: string, stored: StoredAlert): Alert {
  const { kind, at, taskId: _task, message, suggestedAction, acknowledged, ...details } = stored;
  const worded = wordingOf(stored);
  return {
    id,
    kind,
    at,
    taskId: worded.taskId,
    message: message ?? worded.message,
    suggestedAction: suggestedAction ?? worded.suggestedAction,
    status: acknowledged ? 'acknowledged' : 'open',
    acknowledged: acknowledged ?? null,
    details,
  };
}
