export type { Collection, EventSource, HistoryEntry, HistoryRange, Store, StoreDoc, StoreObserver, StoreRecord, TaskFold, TaskMeta, TaskRecord, TaskStep } from './types.ts';
export { EmbeddedStore } from './embedded-store.ts';
export type { EmbeddedStoreOptions } from './embedded-store.ts';
export {
  StaleWriteError,
  StoreClosedError,
  StoreCorruptError,
  StoreError,
  StoreReadError,
  StoreWriteError,
} from './errors.ts';
export type { StoreErrorCode } from './errors.ts';
export { applyRecord, COLLECTIONS, emptyDoc, MAX_ALERTS } from './apply.ts';
export { nodeFileSystem } from './file-system.ts';
export type { AppendFile, FileSystem } from './file-system.ts';
export { repairStore, verifyStore } from './inspect.ts';
export type { FileProblem, RepairResult, StoreReport } from './inspect.ts';
export type { HistorySummary } from './history-index.ts';
export { turnTaker, noTurns } from './turn-taker.ts';
export type { Turn } from './turn-taker.ts';
