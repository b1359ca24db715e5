export { TaskArchive } from './task-archive.ts';
export type { ArchivedTask } from './task-archive.ts';
export { DEFAULT_RETENTION, sweepRetention, TASK_COLLECTIONS } from './retention.ts';
export type { RetentionPolicy, TaskCollection, TaskDocuments } from './retention.ts';
export { RetentionLoop } from './retention-loop.ts';
export type { RetentionLoopOptions } from './retention-loop.ts';
