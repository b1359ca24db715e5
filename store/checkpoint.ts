import { Low } from 'lowdb';
import { COLLECTIONS, detachPrototypes, emptyDoc } from './apply.ts';
import { FsDataFile } from './data-file.ts';
import { StoreCorruptError, StoreReadError, StoreWriteError } from './errors.ts';
import { byteOffset, decodeUtf8, parseJson } from './json-position.ts';
import type { FileSystem } from './file-system.ts';
import type { StoreDoc } from './types.ts';

// Unindented: at 10,000 tasks the indented document is a third larger and slower to write.
const compact = (data: unknown) => JSON.stringify(data);

/** The layout of checkpoint.json; a new layout gets a new number. */
export const CHECKPOINT_FORMAT = 1;

/** A document as of a journal sequence number. */
export interface Checkpoint {
  seq: number;
  doc: StoreDoc;
}

/** What reading a checkpoint found: nothing yet, a checkpoint, or why it cannot be used. */
export type CheckpointRead =
  | { ok: true; checkpoint: Checkpoint | null }
  | { ok: false; error: StoreCorruptError | StoreReadError };

/** Reads and checks checkpoint.json without ever writing to it. */
export async function readCheckpoint(fs: FileSystem, file: string): Promise<CheckpointRead> {
  let bytes: Buffer;
  try {
    bytes = await fs.readFile(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { ok: true, checkpoint: null };
    return { ok: false, error: new StoreReadError(file, error) };
  }
  const decoded = decodeUtf8(bytes);
  if (!decoded.ok) return { ok: false, error: new StoreCorruptError(file, decoded.offset, 'invalid UTF-8') };
  const parsed = parseJson(decoded.text);
  if (!parsed.ok) {
    return { ok: false, error: new StoreCorruptError(file, byteOffset(decoded.text, parsed.position), parsed.reason) };
  }
  const problem = shapeProblem(parsed.value);
  if (problem !== undefined) return { ok: false, error: new StoreCorruptError(file, 0, problem) };
  const { seq, doc } = parsed.value as { seq: number; doc: StoreDoc };
  // A collection added after this checkpoint was written starts empty.
  for (const name of COLLECTIONS) doc.collections[name] ??= {};
  return { ok: true, checkpoint: { seq, doc: detachPrototypes(doc) } };
}

/** Writes checkpoints through lowdb, over our durable adapter (temp file, fsync, rename, fsync of the directory). */
export class CheckpointWriter {
  readonly #file: string;
  // Built by hand: lowdb's node preset turns into a memory adapter under NODE_ENV=test.
  readonly #db: Low<{ format: number; seq: number; doc: StoreDoc }>;

  constructor(fs: FileSystem, file: string) {
    this.#file = file;
    type Checkpoint = { format: number; seq: number; doc: StoreDoc };
    this.#db = new Low(new FsDataFile<Checkpoint>(fs, file, { parse: (text) => JSON.parse(text) as Checkpoint, stringify: compact }), { format: CHECKPOINT_FORMAT, seq: 0, doc: emptyDoc() });
  }

  /**
   * Replaces checkpoint.json; once this resolves ok the file and its directory entry are on disk. The document
   * is serialized before this returns (lowdb's write hands it to the adapter, which stringifies first), so the
   * caller may change it while the file is written.
   */
  async write(seq: number, doc: StoreDoc): Promise<{ ok: true } | { ok: false; error: StoreWriteError }> {
    try {
      this.#db.data = { format: CHECKPOINT_FORMAT, seq, doc };
      // The adapter fsyncs the file before its rename and the directory after: the journal may go once this resolves.
      await this.#db.write();
      return { ok: true };
    } catch (error) {
      return { ok: false, error: new StoreWriteError(this.#file, error) };
    } finally {
      // Do not pin the document between checkpoints.
      this.#db.data = { format: CHECKPOINT_FORMAT, seq, doc: emptyDoc() };
    }
  }
}

function shapeProblem(value: unknown): string | undefined {
  if (!isObject(value)) return 'expected an object { format, seq, doc }';
  if (value.format !== CHECKPOINT_FORMAT) return `format is ${JSON.stringify(value.format)}, expected ${CHECKPOINT_FORMAT}`;
  if (!Number.isSafeInteger(value.seq) || (value.seq as number) < 0) return 'seq is not a non-negative integer';
  const doc = value.doc;
  if (!isObject(doc)) return 'doc is not an object';
  for (const key of ['tasks', 'history', 'deliveries', 'issues', 'collections'] as const) {
    if (!isObject(doc[key])) return `doc.${key} is not an object`;
  }
  const collections = doc.collections as Record<string, unknown>;
  for (const name of COLLECTIONS) {
    if (collections[name] !== undefined && !isObject(collections[name])) return `doc.collections.${name} is not an object`;
  }
  for (const [id, task] of Object.entries(doc.tasks as Record<string, unknown>)) {
    if (!isObject(task) || task.id !== id || !Number.isSafeInteger(task.rev) || !isObject(task.meta)) {
      return `doc.tasks[${JSON.stringify(id)}] is not a task record`;
    }
  }
  for (const [id, entries] of Object.entries(doc.history as Record<string, unknown>)) {
    if (!Array.isArray(entries)) return `doc.history[${JSON.stringify(id)}] is not a list`;
  }
  return undefined;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
