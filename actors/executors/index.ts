export type { Clock, Executor, JobExit, JobSpec, RunningJob } from './types.ts';
export { systemClock } from './types.ts';
export { CommandExecutor, jobEnvironment } from './command-executor.ts';
export type { CommandExecutorOptions } from './command-executor.ts';
export { InProcessExecutor } from './inprocess-executor.ts';
export type { InProcessAgent, InProcessExecutorOptions } from './inprocess-executor.ts';
export { BoundedLog, DEFAULT_MAX_LOG_BYTES, openBoundedLog, readLogTail, truncationMarker } from './log-file.ts';
export type { LogOpenResult, LogTail } from './log-file.ts';
export { isAlive, leadsGroup, processStartedAt, reattach, terminate } from './process-alive.ts';
