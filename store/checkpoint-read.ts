import { join } from 'node:path';
import { COLLECTIONS, detachPrototypes, emptyDoc } from './apply.ts';
import { CHECKPOINT_FILE, CHECKPOINT_FORMAT, DELTAS_FILE, type CheckpointBasis, type CheckpointDelta } from './checkpoint.ts';
import { DeliveryWindow } from './delivery-window.ts';
import { StoreCorruptError, StoreReadError } from './errors.ts';
import type { FileSystem } from './file-system.ts';
import { HISTORY_FILES, HistoryIndex, type HistoryIndexJson } from './history-index.ts';
import { scanLines } from './journal.ts';
import { byteOffset, decodeUtf8, parseJson } from './json-position.ts';
import type { HistoryEntry, StoreDoc } from './types.ts';

/** A document as of a journal sequence number: the base checkpoint with the deltas after it. */
export interface Checkpoint {
  seq: number;
  doc: StoreDoc;
  /** What the next checkpoint may write a delta against; null after a layout 1 base. */
  basis: CheckpointBasis | null;
  /** Bytes of the base, and of the deltas read over it. */
  baseBytes: number;
  deltaBytes: number;
}

/** What reading the checkpoint files found: nothing yet or a checkpoint, and where the next delta goes; or why they cannot be used. */
export type CheckpointRead =
  | { ok: true; checkpoint: Checkpoint | null; deltas: { file: string; exists: boolean; validBytes: number; tornBytes: number } }
  | { ok: false; error: StoreCorruptError | StoreReadError };

/** A base as parsed and checked, before the deltas over it. */
interface BaseJson {
  format: number;
  seq: number;
  doc: Record<string, Record<string, unknown>> & { history: unknown; deliveries: unknown };
}

/**
 * Reads checkpoint.json and the deltas written after it, never writing to either; a layout 1 base is read into
 * layout 2. Deltas at or before the base's seq are left from before it replaced them; the rest must follow it in turn.
 */
export async function readCheckpoint(fs: FileSystem, dir: string): Promise<CheckpointRead> {
  const file = join(dir, CHECKPOINT_FILE);
  let bytes: Buffer | null = null;
  try {
    bytes = await fs.readFile(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') return { ok: false, error: new StoreReadError(file, error) };
  }
  let base: BaseJson | null = null;
  if (bytes !== null) {
    const decoded = decodeUtf8(bytes);
    if (!decoded.ok) return { ok: false, error: new StoreCorruptError(file, decoded.offset, 'invalid UTF-8') };
    const parsed = parseJson(decoded.text);
    if (!parsed.ok) return { ok: false, error: new StoreCorruptError(file, byteOffset(decoded.text, parsed.position), parsed.reason) };
    const problem = baseProblem(parsed.value);
    if (problem !== undefined) return { ok: false, error: new StoreCorruptError(file, 0, problem) };
    base = parsed.value as BaseJson;
  }
  const deltasFile = join(dir, DELTAS_FILE);
  const scan = await scanLines<CheckpointDelta>(fs, deltasFile, deltaProblem);
  if (!scan.ok) return scan;
  const deltas = { file: deltasFile, exists: scan.exists, validBytes: scan.validBytes, tornBytes: scan.tornBytes };
  let seq = base?.seq ?? 0;
  let deltaBytes = 0;
  const packed = base?.format === CHECKPOINT_FORMAT ? [Buffer.from(base.doc.deliveries as string, 'base64')] : [];
  for (const [i, delta] of scan.values.entries()) {
    if (delta.seq <= (base?.seq ?? 0)) continue;
    if (base?.format !== CHECKPOINT_FORMAT || delta.after !== seq) {
      const reason = `line ${i + 1}: a delta after seq ${delta.after} does not follow the checkpoint at seq ${base === null ? 'none' : seq}`;
      return { ok: false, error: new StoreCorruptError(deltasFile, scan.offsets[i]!, reason) };
    }
    mergeDelta(base.doc, delta, packed);
    seq = delta.seq;
    deltaBytes += (scan.offsets[i + 1] ?? scan.validBytes) - scan.offsets[i]!;
  }
  if (base === null) return { ok: true, checkpoint: null, deltas };
  const read = documentOf(base, packed);
  if (typeof read === 'string') return { ok: false, error: new StoreCorruptError(deltaBytes > 0 ? deltasFile : file, 0, read) };
  const basis = base.format === CHECKPOINT_FORMAT ? basisOf(seq, read, base.doc.history as HistoryIndexJson) : null;
  return { ok: true, checkpoint: { seq, doc: read, basis, baseBytes: bytes!.length, deltaBytes }, deltas };
}

/** The document as a checkpoint holds it, by reference: read just now, before any journal line is applied to it (the delivery window notes the keys it takes from here on). */
function basisOf(seq: number, doc: StoreDoc, history: HistoryIndexJson): CheckpointBasis {
  return {
    seq,
    tasks: new Map(Object.entries(doc.tasks)),
    issues: new Map(Object.entries(doc.issues)),
    collections: new Map(COLLECTIONS.map((name) => [name, new Map(Object.entries(doc.collections[name]))])),
    history: { file: history.file, rows: new Map(Object.entries(history.tasks)) },
  };
}

/** Applies a delta to a base as parsed: its maps without prototypes first, so a key such as `__proto__` is a plain key. */
function mergeDelta(doc: BaseJson['doc'], delta: CheckpointDelta, packed: Buffer[]): void {
  const history = doc.history as HistoryIndexJson;
  const merge = (into: Record<string, unknown>, changed: Record<string, unknown>, gone: readonly string[]) => {
    if (Object.getPrototypeOf(into) !== null) Object.setPrototypeOf(into, null);
    for (const key of gone) delete into[key];
    for (const [key, value] of Object.entries(changed)) into[key] = value;
  };
  merge(doc.tasks!, delta.tasks, delta.gone.tasks);
  merge(doc.issues!, delta.issues, delta.gone.issues);
  const collections = doc.collections as Record<string, Record<string, unknown>>;
  for (const [name, changed] of Object.entries(delta.collections)) merge((collections[name] ??= {}), changed, delta.gone.collections[name] ?? []);
  merge(history.tasks, delta.history.tasks, delta.gone.history);
  history.file = delta.history.file;
  history.bytes = delta.history.bytes;
  if ('whole' in delta.deliveries) packed.splice(0, packed.length, Buffer.from(delta.deliveries.whole, 'base64'));
  else packed.push(Buffer.from(delta.deliveries.added, 'base64'));
}

/** Why a parsed base is not one, or undefined when it is; a collection added after it was written starts empty. */
function baseProblem(value: unknown): string | undefined {
  if (!isObject(value)) return 'expected an object { format, seq, doc }';
  if (value.format !== CHECKPOINT_FORMAT && value.format !== 1) return `format is ${JSON.stringify(value.format)}, expected ${CHECKPOINT_FORMAT}`;
  if (!Number.isSafeInteger(value.seq) || (value.seq as number) < 0) return 'seq is not a non-negative integer';
  const doc = value.doc;
  if (!isObject(doc)) return 'doc is not an object';
  for (const key of ['tasks', 'issues', 'collections'] as const) {
    if (!isObject(doc[key])) return `doc.${key} is not an object`;
  }
  const collections = doc.collections as Record<string, unknown>;
  for (const name of COLLECTIONS) {
    if (collections[name] !== undefined && !isObject(collections[name])) return `doc.collections.${name} is not an object`;
    collections[name] ??= {};
  }
  const problem = tasksProblem(doc.tasks as Record<string, unknown>, 'doc.tasks');
  if (problem !== undefined) return problem;
  if (value.format === 1) return isObject(doc.history) && isObject(doc.deliveries) ? undefined : 'doc.history or doc.deliveries is not an object';
  if (!isObject(doc.history) || !isObject(doc.history.tasks)) return 'doc.history is not an index';
  return typeof doc.deliveries === 'string' ? undefined : 'doc.deliveries is not packed text';
}

/** Why a parsed line of the deltas file is not a delta, or undefined when it is. */
function deltaProblem(value: unknown): string | undefined {
  if (!isObject(value)) return 'expected an object { seq, after, ... }';
  const { seq, after, tasks, issues, collections, deliveries, history, gone } = value;
  if (!Number.isSafeInteger(seq) || !Number.isSafeInteger(after) || (after as number) >= (seq as number)) return 'seq and after are not increasing integers';
  if (!isObject(tasks) || !isObject(issues) || !isObject(collections) || !isObject(deliveries) || !isObject(history) || !isObject(gone)) {
    return 'tasks, issues, collections, deliveries, history or gone is not an object';
  }
  const problem = tasksProblem(tasks, 'tasks');
  if (problem !== undefined) return problem;
  if (Object.values(issues).some((id) => typeof id !== 'string')) return 'issues maps an issue to no task id';
  for (const [name, values] of Object.entries(collections)) {
    if (!COLLECTIONS.includes(name as never) || !isObject(values)) return `collections.${name} is no known collection`;
  }
  if (typeof (deliveries.added ?? deliveries.whole) !== 'string') return 'deliveries holds no packed text';
  if (!HISTORY_FILES.includes(history.file as never) || !Number.isSafeInteger(history.bytes) || !isObject(history.tasks)) return 'history is not an index';
  const names = (v: unknown) => Array.isArray(v) && v.every((k) => typeof k === 'string');
  const goneCollections = gone.collections;
  if (!names(gone.tasks) || !names(gone.issues) || !names(gone.history) || !isObject(goneCollections) || !Object.values(goneCollections).every(names)) {
    return 'gone does not list keys';
  }
  return undefined;
}

function tasksProblem(tasks: Record<string, unknown>, where: string): string | undefined {
  for (const [id, task] of Object.entries(tasks)) {
    if (!isObject(task) || task.id !== id || !Number.isSafeInteger(task.rev) || !isObject(task.meta)) {
      return `${where}[${JSON.stringify(id)}] is not a task record`;
    }
  }
  return undefined;
}

/** The document a checked base (with its deltas merged) holds, or why it holds none. */
function documentOf(base: BaseJson, packed: Buffer[]): StoreDoc | string {
  const { doc } = base;
  const out = emptyDoc();
  out.tasks = doc.tasks as StoreDoc['tasks'];
  out.issues = doc.issues as StoreDoc['issues'];
  out.collections = doc.collections as StoreDoc['collections'];
  if (base.format === 1) {
    // Layout 1 kept every entry and key inline: they become entries in memory, written out by the next checkpoint.
    for (const [id, entries] of Object.entries(doc.history as Record<string, unknown>)) {
      if (!Array.isArray(entries)) return `doc.history[${JSON.stringify(id)}] is not a list`;
      for (const entry of entries as HistoryEntry[]) out.history.add(id, entry);
    }
    for (const [key, seen] of Object.entries(doc.deliveries as Record<string, unknown>)) out.deliveries.add(key, isObject(seen) && typeof seen.at === 'number' ? seen.at : 0);
  } else {
    const history = HistoryIndex.fromJson(doc.history);
    if (typeof history === 'string') return `doc.history ${history}`;
    const deliveries = DeliveryWindow.unpack(Buffer.concat(packed));
    if (typeof deliveries === 'string') return `doc.deliveries: ${deliveries}`;
    out.history = history;
    out.deliveries = deliveries;
  }
  return detachPrototypes(out);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
