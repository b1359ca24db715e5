export { TaskArchive } from './task-archive.ts';
export type { ArchivedTask } from './task-archive.ts';
export { DEFAULT_RETENTION, sweepRetention } from './retention.ts';
export type { RetentionPolicy } from './retention.ts';
