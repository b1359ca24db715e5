import { Low } from 'lowdb';
import { COLLECTIONS, detachPrototypes, emptyDoc } from './apply.ts';
import { FsDataFile } from './data-file.ts';
import { StoreCorruptError, StoreReadError, StoreWriteError } from './errors.ts';
import { byteOffset, decodeUtf8, parseJson } from './json-position.ts';
import type { FileSystem } from './file-system.ts';
import type { Turn } from './turn-taker.ts';
import { DeliveryWindow } from './delivery-window.ts';
import { HistoryIndex, type HistoryIndexJson } from './history-index.ts';
import type { HistoryEntry, StoreDoc } from './types.ts';

/** The layout of checkpoint.json; a new layout gets a new number. Layout 1 held history and delivery keys whole. */
export const CHECKPOINT_FORMAT = 2;

/** A document as of a journal sequence number. */
export interface Checkpoint {
  seq: number;
  doc: StoreDoc;
}

/** What reading a checkpoint found: nothing yet, a checkpoint, or why it cannot be used. */
export type CheckpointRead =
  | { ok: true; checkpoint: Checkpoint | null }
  | { ok: false; error: StoreCorruptError | StoreReadError };

/** A checkpoint serialized as of its seq, to be written later while commits go on: its UTF-8 bytes in pieces. */
export interface PreparedCheckpoint {
  seq: number;
  pieces: Buffer[];
}

/** Reads and checks checkpoint.json without ever writing to it; a layout 1 checkpoint is read into layout 2. */
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
  const read = documentOf(parsed.value);
  if (typeof read === 'string') return { ok: false, error: new StoreCorruptError(file, 0, read) };
  return { ok: true, checkpoint: read };
}

/** A document captured as of a seq, serialized later: `history` is the index its history seal records. */
export type CapturedCheckpoint = (history: HistoryIndexJson, turn: Turn) => Promise<PreparedCheckpoint>;

/**
 * Captures the document as of `seq` now, by reference: a commit replaces a task record or a collection's value
 * whole, never changes one in place, so what is captured stays as of `seq` while the text is built a slice at
 * a time, commits going on between slices (no request waits behind a whole checkpoint). The delivery window
 * changes in place, so it is copied (a few typed arrays).
 */
export function captureCheckpoint(seq: number, doc: StoreDoc): CapturedCheckpoint {
  const tasks = Object.entries(doc.tasks);
  const issues = Object.entries(doc.issues);
  const collections = Object.entries(doc.collections).map(([name, values]) => [name, Object.entries(values)] as const);
  const deliveries = doc.deliveries.copy();
  return async (history, turn) => {
    const out = new PieceWriter();
    out.add(`{"format":${CHECKPOINT_FORMAT},"seq":${seq},"doc":{"tasks":`);
    await objectText(tasks, out, turn);
    out.add(',"issues":');
    await objectText(issues, out, turn);
    out.add(',"collections":{');
    for (const [i, [name, values]] of collections.entries()) {
      out.add(`${i === 0 ? '' : ','}${JSON.stringify(name)}:`);
      await objectText(values, out, turn);
    }
    // Base64 needs no escaping.
    out.add('},"deliveries":"');
    await deliveries.pack((base64) => out.add(base64), turn);
    // The history index's own fields whole, its per-task rows in slices after them.
    const { tasks: rows, ...fields } = history;
    out.add(`","history":${JSON.stringify(fields).slice(0, -1)},"tasks":`);
    await objectText(Object.entries(rows), out, turn);
    out.add('}}}');
    return { seq, pieces: out.end() };
  };
}

/** Writes an object's members as JSON.stringify would (unindented: at 10,000 tasks indenting costs a third more), a turn weighing each member's text. */
async function objectText(members: [string, unknown][], out: PieceWriter, turn: Turn): Promise<void> {
  out.add('{');
  let first = true;
  for (const [key, value] of members) {
    const text = JSON.stringify(value) as string | undefined;
    if (text === undefined) continue;
    out.add(`${first ? '' : ','}${JSON.stringify(key)}:${text}`);
    first = false;
    await turn(text.length);
  }
  out.add('}');
}

/** Text gathered into UTF-8 pieces of about PIECE_CHARS, each encoded as it fills: no one large string to encode at the end. */
class PieceWriter {
  #texts: string[] = [];
  #chars = 0;
  readonly #pieces: Buffer[] = [];

  add(text: string): void {
    this.#texts.push(text);
    this.#chars += text.length;
    if (this.#chars >= PIECE_CHARS) this.#flush();
  }

  end(): Buffer[] {
    this.#flush();
    return this.#pieces;
  }

  #flush(): void {
    if (this.#texts.length === 0) return;
    this.#pieces.push(Buffer.from(this.#texts.join('')));
    this.#texts = [];
    this.#chars = 0;
  }
}

const PIECE_CHARS = 256 * 1024;

/** Writes checkpoints through lowdb, over our durable adapter (temp file, fsync, rename, fsync of the directory). */
export class CheckpointWriter {
  readonly #file: string;
  // Built by hand: lowdb's node preset turns into a memory adapter under NODE_ENV=test. It holds the bytes
  // serialized as of the checkpoint's seq, since the document changes while the history is written.
  readonly #db: Low<readonly Buffer[]>;

  constructor(fs: FileSystem, file: string) {
    this.#file = file;
    this.#db = new Low(new FsDataFile<readonly Buffer[]>(fs, file, { parse: (text) => [Buffer.from(text)], serialize: (pieces) => Buffer.concat(pieces) }), []);
  }

  /** Replaces checkpoint.json; once this resolves ok the file and its directory entry are on disk. */
  async write(prepared: PreparedCheckpoint): Promise<{ ok: true } | { ok: false; error: StoreWriteError }> {
    try {
      this.#db.data = prepared.pieces;
      // The adapter fsyncs the file before its rename and the directory after: the journal may go once this resolves.
      await this.#db.write();
      return { ok: true };
    } catch (error) {
      return { ok: false, error: new StoreWriteError(this.#file, error) };
    } finally {
      // Do not pin the bytes between checkpoints.
      this.#db.data = [];
    }
  }
}

/** The checkpoint a parsed file holds, or why it holds none. */
function documentOf(value: unknown): Checkpoint | string {
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
    // A collection added after this checkpoint was written starts empty.
    collections[name] ??= {};
  }
  for (const [id, task] of Object.entries(doc.tasks as Record<string, unknown>)) {
    if (!isObject(task) || task.id !== id || !Number.isSafeInteger(task.rev) || !isObject(task.meta)) {
      return `doc.tasks[${JSON.stringify(id)}] is not a task record`;
    }
  }
  const out = emptyDoc();
  out.tasks = doc.tasks as StoreDoc['tasks'];
  out.issues = doc.issues as StoreDoc['issues'];
  out.collections = collections as StoreDoc['collections'];
  if (value.format === 1) {
    // Layout 1 kept every entry and key inline: they become entries in memory, written out by the next checkpoint.
    if (!isObject(doc.history) || !isObject(doc.deliveries)) return 'doc.history or doc.deliveries is not an object';
    for (const [id, entries] of Object.entries(doc.history)) {
      if (!Array.isArray(entries)) return `doc.history[${JSON.stringify(id)}] is not a list`;
      for (const entry of entries as HistoryEntry[]) out.history.add(id, entry);
    }
    for (const [key, seen] of Object.entries(doc.deliveries)) out.deliveries.add(key, isObject(seen) && typeof seen.at === 'number' ? seen.at : 0);
  } else {
    const history = HistoryIndex.fromJson(doc.history);
    if (typeof history === 'string') return `doc.history ${history}`;
    if (typeof doc.deliveries !== 'string') return 'doc.deliveries is not packed text';
    const deliveries = DeliveryWindow.unpack(doc.deliveries);
    if (typeof deliveries === 'string') return `doc.deliveries: ${deliveries}`;
    out.history = history;
    out.deliveries = deliveries;
  }
  return { seq: value.seq as number, doc: detachPrototypes(out) };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
