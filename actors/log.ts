/** How much a log line matters. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** What a line carries besides its text: its level, and the task, stage or job it is about. */
export interface LogFields {
  level?: LogLevel;
  taskId?: string;
  stage?: string;
  jobId?: string;
  [key: string]: unknown;
}

/**
 * Where conveyor's parts write: one line that starts with the part's name (`reaper: ...`), and fields
 * for structured output. The process entry point decides the format.
 */
export type LogLine = (line: string, fields?: LogFields) => void;
