import type { AgentQuestion } from '../../machines/index.ts';

export type { AgentQuestion };

/** Tokens and cost an agent's CLI reported; cost is null when the CLI reports none (Codex). */
export interface Usage {
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
  costUsd: number | null;
}

/** What one activity record says: the agent's text, a tool it used, a file it touched, an error, its result, a question for a person, words it was given while it ran, its session or its spend so far. */
export type ActivityKind = 'text' | 'tool' | 'file' | 'error' | 'result' | 'question' | 'input' | 'session' | 'usage' | 'truncated';

/** What a kind's parser makes of one line of its CLI's output, before the recorder numbers and stamps it. */
export interface ParsedActivity {
  kind: ActivityKind;
  /** Assistant text, an error message, the final result, a question; clipped. */
  text?: string;
  /** The tool's name (Edit, Bash, shell, server.tool). */
  tool?: string;
  /** What the tool worked on: a file, a command, a pattern, a URL. */
  target?: string;
  /** A file the agent changed. */
  path?: string;
  /** The CLI's own session (Claude Code's session_id, Codex's thread_id). */
  session?: string;
  /** `total` replaces what the job has spent so far (a run's final figures), `add` adds to it (a turn's). */
  usage?: Usage & { mode: 'total' | 'add' };
  isError?: boolean;
  /** For a question: the answers the agent offered, when it offered some. */
  options?: string[];
}


/** One record of a job's activity log (`<job log>.activity.jsonl`), in the order the agent did things. */
export interface ActivityRecord extends Omit<ParsedActivity, 'usage'> {
  /** 1, 2, 3… within the job. */
  seq: number;
  at: number;
  /** Byte offset in the job's log just past the line this came from: where parsing resumes after a restart. */
  offset: number;
  /** For `usage` records: what the job has spent in all, so far. */
  usage?: Usage;
}

/** How conveyor drives one kind of agent CLI: its command line, and what its output lines mean. */
export interface AgentKind {
  readonly name: 'claude-code' | 'codex';
  /** The command used when the configuration gives none. */
  readonly defaultCommand: readonly string[];
  /** The full argv: the configured command, then the flags that make the CLI non-interactive and structured (the prompt goes on stdin for a kind with input). */
  argv(command: readonly string[], prompt: string, resumeSession: string | null): string[];
  /** What one line of output means; never throws, and an unknown or broken line means nothing. */
  parse(line: string): ParsedActivity[];
  /** A kind that reads its turns on stdin: the prompt, then words for the running session, one line each. */
  readonly input?: { message(text: string): string };
}

/** The longest text an activity record keeps. */
export const MAX_ACTIVITY_TEXT = 2000;

export const clip = (text: string, max = MAX_ACTIVITY_TEXT): string => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

export const zeroUsage = (): Usage => ({ inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0, costUsd: null });

/** Usage added up: tokens summed, cost summed where known. */
export function addUsage(a: Usage, b: Usage): Usage {
  return {
    inputTokens: a.inputTokens + b.inputTokens,
    outputTokens: a.outputTokens + b.outputTokens,
    cacheReadTokens: a.cacheReadTokens + b.cacheReadTokens,
    cacheWriteTokens: a.cacheWriteTokens + b.cacheWriteTokens,
    costUsd: a.costUsd === null && b.costUsd === null ? null : (a.costUsd ?? 0) + (b.costUsd ?? 0),
  };
}

/** The line an agent starts with this to ask a person, when its CLI has no way to ask of its own (the prompt says so). */
export const QUESTION_MARKER = 'QUESTION:';

/** The question a final message asks on a line of its own (`QUESTION: …`), if it asks one. */
export function markedQuestion(text: string): ParsedActivity[] {
  for (const line of text.split('\n')) {
    const trimmed = line.trim();
    if (trimmed.startsWith(QUESTION_MARKER) && trimmed.length > QUESTION_MARKER.length) return [{ kind: 'question', text: clip(trimmed.slice(QUESTION_MARKER.length).trim()) }];
  }
  return [];
}

/** A JSON line as an object, or null: output that is not one (a stray stderr line) means nothing. */
export function jsonObject(line: string): Record<string, unknown> | null {
  const trimmed = line.trim();
  if (!trimmed.startsWith('{')) return null;
  try {
    const value: unknown = JSON.parse(trimmed);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

export const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
export const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : 0);
export const rec = (v: unknown): Record<string, unknown> => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {});
