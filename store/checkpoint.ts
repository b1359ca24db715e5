import { Low } from 'lowdb';
import { FsDataFile } from './data-file.ts';
import { StoreWriteError } from './errors.ts';
import type { FileSystem } from './file-system.ts';
import type { Turn } from './turn-taker.ts';
import type { DeliveryChanges, DeliveryWindow } from './delivery-window.ts';
import type { HistoryIndexJson } from './history-index.ts';
import type { Collection, StoreDoc, TaskRecord } from './types.ts';

/** The layout of checkpoint.json; a new layout gets a new number. Layout 1 held history and delivery keys whole. */
export const CHECKPOINT_FORMAT = 2;
/** The base checkpoint: the whole document as of a seq. */
export const CHECKPOINT_FILE = 'checkpoint.json';
/** The delta checkpoints written since the base, one line each, each holding what changed since the one before. */
export const DELTAS_FILE = 'checkpoint.deltas.jsonl';

/**
 * What the last durable checkpoint held, by reference (records are replaced whole, never changed in place): the
 * next checkpoint compares against it and writes only what differs.
 */
export interface CheckpointBasis {
  seq: number;
  tasks: ReadonlyMap<string, TaskRecord>;
  issues: ReadonlyMap<string, string>;
  collections: ReadonlyMap<Collection, ReadonlyMap<string, unknown>>;
  history: { file: HistoryIndexJson['file']; rows: ReadonlyMap<string, (number | null)[]> };
}

/** One line of the deltas file: what changed between the checkpoint at `after` and this one, at `seq`. */
export interface CheckpointDelta {
  seq: number;
  after: number;
  tasks: Record<string, TaskRecord>;
  issues: Record<string, string>;
  collections: Record<string, Record<string, unknown>>;
  /** Delivery keys packed as in a base: those added, or the whole window when some were pruned. */
  deliveries: { added: string } | { whole: string };
  /** The history index's fields, with the rows that changed. */
  history: HistoryIndexJson;
  /** Keys held before and no longer. */
  gone: { tasks: string[]; issues: string[]; collections: Record<string, string[]>; history: string[] };
}

/** A checkpoint serialized as of its seq, to be written later while commits go on: its UTF-8 bytes in pieces. */
export interface PreparedCheckpoint {
  seq: number;
  /** A base replaces checkpoint.json; a delta is a line of the deltas file holding what changed since `basis`. */
  kind: 'base' | 'delta';
  pieces: Buffer[];
  bytes: number;
  /** What it holds, by reference: the basis of the next checkpoint once this one is durable. */
  basis: CheckpointBasis;
}

/**
 * A document captured as of a seq, serialized later: `history` is the index its history seal records; with a
 * basis (the last durable checkpoint) only what differs from it is written, as a delta.
 */
export type CapturedCheckpoint = (history: HistoryIndexJson, turn: Turn, basis: CheckpointBasis | null) => Promise<PreparedCheckpoint>;

/**
 * Captures the document as of `seq` now, by reference: a commit replaces a task record or a collection's value
 * whole, never changes one in place, so what is captured stays as of `seq` while the text is built a slice at
 * a time, commits going on between slices (no request waits behind a whole checkpoint). The delivery window
 * changes in place, so it is copied (a few typed arrays), and the keys it took since the last capture are taken.
 */
export function captureCheckpoint(seq: number, doc: StoreDoc): CapturedCheckpoint {
  // Keys and values read into arrays at once (about 2 ms at 10,000 tasks); the maps the next checkpoint compares
  // against are built from them a slice at a time (building them at once took 5 ms a dictionary).
  const tasks = membersOf(doc.tasks);
  const issues = membersOf(doc.issues);
  const collections = (Object.keys(doc.collections) as Collection[]).map((name) => [name, membersOf(doc.collections[name])] as const);
  const deliveries = doc.deliveries.copy();
  // Taken at every capture, so what a delta holds is what came since the capture of its basis.
  const added = doc.deliveries.takeChanges();
  return async (history, turn, basis) => {
    const collectionMaps = new Map<Collection, ReadonlyMap<string, unknown>>();
    for (const [name, members] of collections) collectionMaps.set(name, await mapOf(members, turn));
    const next: CheckpointBasis = {
      seq,
      tasks: await mapOf(tasks, turn),
      issues: await mapOf(issues, turn),
      collections: collectionMaps,
      history: { file: history.file, rows: await mapOf(membersOf(history.tasks), turn) },
    };
    const out = new PieceWriter();
    // Rows of a rewritten history file all move: only a base says where.
    const delta = basis !== null && basis.history.file === history.file;
    if (delta) await deltaText(basis, next, { window: deliveries, added }, history, out, turn);
    else await baseText(next, deliveries, history, out, turn);
    const pieces = out.end();
    return { seq, kind: delta ? 'delta' : 'base', pieces, bytes: pieces.reduce((n, piece) => n + piece.length, 0), basis: next };
  };
}

/** A dictionary's members as of now: its keys, and the value of each. */
interface Members<V> {
  keys: string[];
  values: V[];
}

function membersOf<V>(dict: Record<string, V>): Members<V> {
  const keys = Object.keys(dict);
  const values = new Array<V>(keys.length);
  for (let i = 0; i < keys.length; i++) values[i] = dict[keys[i]!]!;
  return { keys, values };
}

async function mapOf<V>(members: Members<V>, turn: Turn): Promise<Map<string, V>> {
  const map = new Map<string, V>();
  for (let i = 0; i < members.keys.length; i++) {
    map.set(members.keys[i]!, members.values[i]!);
    const turning = turn(MAP_ENTRY_WEIGHT);
    if (turning !== undefined) await turning;
  }
  return map;
}

/** What putting one member in a map weighs against a character of JSON: about as long as serializing 256. */
const MAP_ENTRY_WEIGHT = 256;

/** The whole document, as checkpoint.json holds it. */
async function baseText(doc: CheckpointBasis, deliveries: DeliveryWindow, history: HistoryIndexJson, out: PieceWriter, turn: Turn): Promise<void> {
  out.add(`{"format":${CHECKPOINT_FORMAT},"seq":${doc.seq},"doc":{"tasks":`);
  await objectText(doc.tasks, out, turn);
  out.add(',"issues":');
  await objectText(doc.issues, out, turn);
  out.add(',"collections":{');
  for (const [i, [name, values]] of [...doc.collections].entries()) {
    out.add(`${i === 0 ? '' : ','}${JSON.stringify(name)}:`);
    await objectText(values, out, turn);
  }
  // Base64 needs no escaping.
  out.add('},"deliveries":"');
  await deliveries.pack((base64) => out.add(base64), turn);
  // The history index's own fields whole, its per-task rows in slices after them.
  out.add(`","history":${historyFields(history)},"tasks":`);
  await objectText(doc.history.rows, out, turn);
  out.add('}}}');
}

/**
 * What changed since `basis`, as one line of the deltas file: records that are new or replaced, the keys of those
 * gone, the delivery keys added (all of them when some were pruned), and the history rows that moved.
 */
async function deltaText(
  basis: CheckpointBasis,
  doc: CheckpointBasis,
  deliveries: { window: DeliveryWindow; added: DeliveryChanges },
  history: HistoryIndexJson,
  out: PieceWriter,
  turn: Turn,
): Promise<void> {
  const gone: CheckpointDelta['gone'] = { tasks: [], issues: [], collections: {}, history: [] };
  out.add(`{"seq":${doc.seq},"after":${basis.seq},"tasks":`);
  await objectText(changes(basis.tasks, doc.tasks, gone.tasks), out, turn);
  out.add(',"issues":');
  await objectText(changes(basis.issues, doc.issues, gone.issues), out, turn);
  out.add(',"collections":{');
  for (const [i, [name, values]] of [...doc.collections].entries()) {
    out.add(`${i === 0 ? '' : ','}${JSON.stringify(name)}:`);
    await objectText(changes(basis.collections.get(name) ?? new Map(), values, (gone.collections[name] = [])), out, turn);
  }
  const { window, added } = deliveries;
  const emit = (base64: string) => out.add(base64);
  out.add(`},"deliveries":{"${added.keys === null ? 'whole' : 'added'}":"`);
  await (added.keys === null ? window.pack(emit, turn) : added.pack(emit, turn));
  out.add(`"},"history":${historyFields(history)},"tasks":`);
  await objectText(changes(basis.history.rows, doc.history.rows, gone.history, sameRow), out, turn);
  out.add(`},"gone":${JSON.stringify(gone)}}\n`);
}

/** The history index's fields but its rows, as the start of an object the rows follow. */
function historyFields({ file, bytes }: HistoryIndexJson): string {
  return JSON.stringify({ file, bytes }).slice(0, -1);
}

/**
 * The members of `now` that `before` does not hold as they are, found as they are read (a slice at a time, as
 * they are written); the keys `before` holds and `now` does not go to `gone` at once.
 */
function changes<V>(before: ReadonlyMap<string, V>, now: ReadonlyMap<string, V>, gone: string[], same: (a: V, b: V) => boolean = Object.is): Iterable<[string, V]> {
  for (const key of before.keys()) if (!now.has(key)) gone.push(key);
  return changed(before, now, same);
}

function* changed<V>(before: ReadonlyMap<string, V>, now: ReadonlyMap<string, V>, same: (a: V, b: V) => boolean): Generator<[string, V]> {
  for (const [key, value] of now) {
    const was = before.get(key);
    if (was === undefined || !same(was, value)) yield [key, value];
  }
}

/** History rows are rebuilt at each seal: the same figures are the same row. */
function sameRow(a: readonly (number | null)[], b: readonly (number | null)[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/** Writes an object's members as JSON.stringify would (unindented: at 10,000 tasks indenting costs a third more), a turn weighing each member's text. */
async function objectText(members: Iterable<[string, unknown]>, out: PieceWriter, turn: Turn): Promise<void> {
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
    this.#db = new Low(new FsDataFile<readonly Buffer[]>(fs, file, { parse: (text) => [Buffer.from(text)], serialize: (pieces) => pieces }), []);
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
