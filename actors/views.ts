import type { StateValue } from 'xstate';
import { describeState, stageOf, type TaskContext, type TaskMachine } from '../machines/index.ts';
import type { TaskRecord } from '../store/index.ts';

/** What the API shows of one task. */
export interface TaskView {
  id: string;
  title: string;
  repo: string;
  branch: string;
  trackerIssueId?: string;
  createdAt: number;
  state: string;
  stage: string;
  status: string;
  tags: string[];
  rev: number;
  machine: { id: string; version: number };
  context: TaskContext;
  pending: {
    job: TaskContext['job'];
    deadline: number | null;
    escalation: TaskContext['escalation'];
    hold: TaskContext['hold'];
  };
}

export interface TaskSummary {
  id: string;
  title: string;
  repo: string;
  state: string;
  stage: string;
  status: string;
  createdAt: number;
}

type Persisted = { value: StateValue; context: TaskContext; status: string };

export function summarize(record: TaskRecord): TaskSummary {
  const snap = record.snapshot as Persisted;
  return { id: record.id, title: record.meta.title, repo: record.meta.repo, state: describeState(snap.value), stage: stageOf(snap.value), status: snap.status, createdAt: record.meta.createdAt };
}

/** The full view, tags resolved from the chart without starting the actor. */
export function viewOf(record: TaskRecord, machine: TaskMachine): TaskView {
  const snap = record.snapshot as Persisted;
  const resolved = machine.resolveState({ value: snap.value, context: snap.context });
  const ctx = snap.context;
  return {
    ...summarize(record),
    branch: record.meta.branch,
    trackerIssueId: record.meta.trackerIssueId,
    createdAt: record.meta.createdAt,
    tags: [...resolved.tags].sort(),
    rev: record.rev,
    machine: { id: record.machineId, version: record.version },
    context: ctx,
    pending: { job: ctx.job, deadline: ctx.deadline, escalation: ctx.escalation, hold: ctx.hold },
  };
}
