import { DeliveryWindow } from './delivery-window.ts';
import { HistoryIndex } from './history-index.ts';
import type { Collection, StoreDoc, StoreRecord } from './types.ts';

/** Alerts a document keeps; past it the oldest go, so a flood of bad deliveries grows neither memory nor checkpoints (SPEC R40). */
export const MAX_ALERTS = 1000;

/** Every collection a document holds, in a fixed order. */
export const COLLECTIONS: readonly Collection[] = ['decisions', 'jobs', 'effects', 'alerts', 'meta'];

/** A document with nothing in it. */
export function emptyDoc(): StoreDoc {
  const collections = dict<Record<string, unknown>>();
  for (const name of COLLECTIONS) collections[name] = dict();
  return {
    tasks: dict(),
    history: new HistoryIndex(),
    deliveries: new DeliveryWindow(),
    issues: dict(),
    collections: collections as StoreDoc['collections'],
  };
}

/**
 * Applies one record to the document in place; deterministic and free of I/O, so replaying the journal
 * rebuilds exactly the document the live store held. Fences are checked before a record gets here.
 */
export function applyRecord(doc: StoreDoc, record: StoreRecord): StoreDoc {
  switch (record.kind) {
    case 'task': {
      const { task } = record;
      doc.tasks[task.id] = task;
      if (task.meta.trackerIssueId !== undefined) doc.issues[task.meta.trackerIssueId] = task.id;
      break;
    }
    case 'step': {
      const { taskId, rev, version, snapshot } = record;
      const before = doc.tasks[taskId];
      if (before !== undefined) doc.tasks[taskId] = { ...before, rev, version, snapshot };
      else {
        const task = { id: taskId, machineId: record.machineId!, version, rev, meta: record.meta!, snapshot };
        doc.tasks[taskId] = task;
        if (task.meta.trackerIssueId !== undefined) doc.issues[task.meta.trackerIssueId] = taskId;
      }
      // The entry says it moved the task, and to which rev: a replay of the history folds exactly these.
      doc.history.add(taskId, { ...record.entry, rev, ...(record.forced ? { forced: true as const } : {}) });
      break;
    }
    case 'history':
      doc.history.add(record.taskId, record.entry);
      break;
    case 'delivery': {
      // The first sighting wins: a redelivery must not move the dedupe timestamp.
      doc.deliveries.add(record.key, record.at);
      break;
    }
    case 'put': {
      const collection = doc.collections[record.collection];
      const added = !Object.hasOwn(collection, record.id);
      collection[record.id] = record.value;
      // Keys keep insertion order (alert ids are never integers), in memory and through a checkpoint, so the first key is the oldest.
      if (added && record.collection === 'alerts') dropOldest(collection, MAX_ALERTS);
      break;
    }
    case 'delete':
      delete doc.collections[record.collection][record.id];
      break;
    case 'archived':
      // The issue's mapping stays, so a late tracker update finds the archived task instead of starting a new one.
      for (const id of record.taskIds) {
        delete doc.tasks[id];
        doc.history.drop(id);
      }
      break;
    case 'pruned':
      doc.deliveries.prune(record.before);
      break;
    default: {
      const unknown: never = record;
      throw new Error(`store: unknown record kind ${JSON.stringify((unknown as { kind?: unknown }).kind)}`);
    }
  }
  return doc;
}

/** Why a value read back from disk is not a record applyRecord can take, or undefined when it is. */
export function recordProblem(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null) return 'is not an object';
  const r = value as Record<string, unknown>;
  const isString = (v: unknown): v is string => typeof v === 'string';
  const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;
  switch (r.kind) {
    case 'task': {
      const task = r.task;
      if (!isObject(task) || !isString(task.id) || !Number.isSafeInteger(task.rev) || !isObject(task.meta)) {
        return 'has no valid task';
      }
      return r.expectedRev === null || Number.isSafeInteger(r.expectedRev) ? undefined : 'has no valid expectedRev';
    }
    case 'step': {
      if (!isString(r.taskId) || !isObject(r.entry) || !Number.isSafeInteger(r.rev) || (r.rev as number) < 1 || !Number.isSafeInteger(r.version)) {
        return 'has no taskId, entry, rev or version';
      }
      return r.rev !== 1 || (isString(r.machineId) && isObject(r.meta)) ? undefined : 'creates a task without machineId and meta';
    }
    case 'history':
      return isString(r.taskId) && isObject(r.entry) ? undefined : 'has no taskId or entry';
    case 'delivery':
      return isString(r.key) && typeof r.at === 'number' ? undefined : 'has no key or time';
    case 'put':
    case 'delete':
      return COLLECTIONS.includes(r.collection as Collection) && isString(r.id) ? undefined : 'names no known collection and id';
    case 'archived':
      return Array.isArray(r.taskIds) && r.taskIds.every(isString) ? undefined : 'has no list of task ids';
    case 'pruned':
      return typeof r.before === 'number' ? undefined : 'has no time';
    default:
      return `has unknown kind ${JSON.stringify(r.kind)}`;
  }
}

/**
 * Gives the document's maps no prototype, so keys that arrive from outside (delivery ids, issue ids)
 * such as `__proto__` or `constructor` are plain keys; JSON.parse builds ordinary objects.
 */
export function detachPrototypes(doc: StoreDoc): StoreDoc {
  Object.setPrototypeOf(doc.tasks, null);
  Object.setPrototypeOf(doc.issues, null);
  Object.setPrototypeOf(doc.collections, null);
  for (const name of COLLECTIONS) Object.setPrototypeOf(doc.collections[name], null);
  return doc;
}

function dropOldest(collection: Record<string, unknown>, max: number): void {
  const ids = Object.keys(collection);
  for (const id of ids.slice(0, Math.max(0, ids.length - max))) delete collection[id];
}

function dict<T>(): Record<string, T> {
  return Object.create(null) as Record<string, T>;
}
