import { hash } from 'node:crypto';
import type { Turn } from './turn-taker.ts';

/** Bytes per key when packed: the 64-bit hash as two 32-bit halves, then the first-seen time as a float64. */
const PACKED = 16;
const MIN_SLOTS = 1024;
/** Keys packed between two turns; a multiple of 3, so each piece's base64 needs no padding. */
const PACK_PIECE_KEYS = 3 * 1024;

/**
 * The delivery keys seen within the deduplication window, as 64-bit hashes with their first-seen times in
 * an open-addressed table of typed arrays: about 16 to 46 bytes per key, whatever the key's length, and no
 * object per key for the collector to walk. A new key is taken for a redelivery only if its hash equals
 * one of the n hashes held: odds n / 2^64 per delivery, about 5 in 10^13 with ten million keys held.
 */
export class DeliveryWindow {
  #hi = new Uint32Array(MIN_SLOTS);
  #lo = new Uint32Array(MIN_SLOTS);
  /** First-seen time of each slot; NaN marks an empty slot. */
  #at = new Float64Array(MIN_SLOTS).fill(Number.NaN);
  #size = 0;
  /** The oldest first-seen time held (Infinity when empty): what the retention sweep asks about. */
  #oldest = Number.POSITIVE_INFINITY;
  /** Keys added since the last takeChanges(), as hi, lo, at triples; and whether a prune took keys since. */
  #added: number[] = [];
  #pruned = false;

  get size(): number {
    return this.#size;
  }

  has(key: string): boolean {
    const [hi, lo] = hashOf(key);
    return !Number.isNaN(this.#at[this.#slot(hi, lo)]!);
  }

  /** Records a key's first sighting; a key already held keeps its first time. */
  add(key: string, at: number): void {
    const [hi, lo] = hashOf(key);
    if (this.#put(hi, lo, at)) this.#added.push(hi, lo, at);
  }

  /** Whether some key was first seen before `at`. */
  hasBefore(at: number): boolean {
    return this.#oldest < at;
  }

  /** Forgets every key first seen before `before`. */
  prune(before: number): void {
    if (!(this.#oldest < before)) return;
    this.#pruned = true;
    const kept = this.#entries().filter((e) => !(e.at < before));
    this.#reset(kept.length);
    for (const e of kept) this.#put(e.hi, e.lo, e.at);
  }

  /** A copy of the window as it is now, for a checkpoint to pack while keys keep arriving. */
  copy(): DeliveryWindow {
    const copy = new DeliveryWindow();
    copy.#hi = this.#hi.slice();
    copy.#lo = this.#lo.slice();
    copy.#at = this.#at.slice();
    copy.#size = this.#size;
    copy.#oldest = this.#oldest;
    return copy;
  }

  /** The keys added since the last call (null when a prune took keys since: then only the whole window says what is held). */
  takeChanges(): DeliveryChanges {
    const changes = new DeliveryChanges(this.#pruned ? null : this.#added);
    this.#added = [];
    this.#pruned = false;
    return changes;
  }

  /** Every key held, packed for a checkpoint (see packKeys). */
  async pack(emit: (base64: string) => void, turn: Turn): Promise<void> {
    const slots = this.#at.length;
    await packKeys(slots, (slot) => (Number.isNaN(this.#at[slot]!) ? null : [this.#hi[slot]!, this.#lo[slot]!, this.#at[slot]!]), emit, turn);
  }

  /** The window packed keys describe (a checkpoint's text, or the bytes of several joined), or why they cannot be one. */
  static unpack(packed: string | Buffer): DeliveryWindow | string {
    const bytes = typeof packed === 'string' ? Buffer.from(packed, 'base64') : packed;
    if (bytes.length % PACKED !== 0) return `packed deliveries are ${bytes.length} bytes, not a multiple of ${PACKED}`;
    const window = new DeliveryWindow();
    window.#reset(bytes.length / PACKED);
    for (let offset = 0; offset < bytes.length; offset += PACKED) {
      const at = bytes.readDoubleLE(offset + 8);
      if (Number.isNaN(at)) return `packed deliveries hold no time at byte ${offset + 8}`;
      window.#put(bytes.readUInt32LE(offset), bytes.readUInt32LE(offset + 4), at);
    }
    return window;
  }

  /** Holds a key unless held already; says whether it was new. */
  #put(hi: number, lo: number, at: number): boolean {
    const slot = this.#slot(hi, lo);
    if (!Number.isNaN(this.#at[slot]!)) return false;
    this.#hi[slot] = hi;
    this.#lo[slot] = lo;
    this.#at[slot] = at;
    this.#size++;
    if (at < this.#oldest) this.#oldest = at;
    // Linear probing stays short below three quarters full.
    if (this.#size * 4 > this.#at.length * 3) this.#grow();
    return true;
  }

  /** The slot holding this hash, or the empty slot where it would go. */
  #slot(hi: number, lo: number): number {
    const mask = this.#at.length - 1;
    for (let slot = lo & mask; ; slot = (slot + 1) & mask) {
      if (Number.isNaN(this.#at[slot]!) || (this.#hi[slot] === hi && this.#lo[slot] === lo)) return slot;
    }
  }

  #grow(): void {
    const entries = this.#entries();
    this.#reset(entries.length * 2);
    for (const e of entries) this.#put(e.hi, e.lo, e.at);
  }

  /** Empties the table, sized for `keys` keys at most half full. */
  #reset(keys: number): void {
    let slots = MIN_SLOTS;
    while (slots < keys * 2) slots *= 2;
    this.#hi = new Uint32Array(slots);
    this.#lo = new Uint32Array(slots);
    this.#at = new Float64Array(slots).fill(Number.NaN);
    this.#size = 0;
    this.#oldest = Number.POSITIVE_INFINITY;
  }

  #entries(): { hi: number; lo: number; at: number }[] {
    const out = [];
    for (let slot = 0; slot < this.#at.length; slot++) {
      const at = this.#at[slot]!;
      if (!Number.isNaN(at)) out.push({ hi: this.#hi[slot]!, lo: this.#lo[slot]!, at });
    }
    return out;
  }
}

/** Keys a window took since a checkpoint, for the next delta: the added ones, or null when a prune took some. */
export class DeliveryChanges {
  /** Each added key as its hash's halves and first-seen time, three numbers a key; null when a prune took some. */
  constructor(readonly keys: readonly number[] | null) {}

  /** The added keys packed as a base packs every key (see packKeys). */
  pack(emit: (base64: string) => void, turn: Turn): Promise<void> {
    const added = this.keys ?? [];
    return packKeys(added.length / 3, (i) => [added[3 * i]!, added[3 * i + 1]!, added[3 * i + 2]!], emit, turn);
  }
}

/**
 * Keys packed for a checkpoint, base64 of 16 bytes per key, handed to `emit` in pieces that join into one text (each
 * but the last a multiple of 3 bytes, so without padding), a turn weighing its bytes after each; `key(i)` is the
 * i-th of `count` places, null where none is.
 */
async function packKeys(count: number, key: (i: number) => readonly [number, number, number] | null, emit: (base64: string) => void, turn: Turn): Promise<void> {
  const piece = Buffer.alloc(PACK_PIECE_KEYS * PACKED);
  const view = new DataView(piece.buffer, piece.byteOffset, piece.length);
  let offset = 0;
  for (let i = 0; i < count; i++) {
    const held = key(i);
    if (held === null) continue;
    view.setUint32(offset, held[0], true);
    view.setUint32(offset + 4, held[1], true);
    view.setFloat64(offset + 8, held[2], true);
    offset += PACKED;
    if (offset === piece.length) {
      emit(piece.toString('base64'));
      offset = 0;
      await turn(piece.length);
    }
  }
  if (offset > 0) emit(piece.toString('base64', 0, offset));
}

/** The last key hashed: a delivery is looked up, then added, with the same key. */
let last: { key: string; hash: [number, number] } = { key: '', hash: [0, 0] };

/** The first 64 bits of the key's SHA-256: stable across versions, since checkpoints keep only the hash. */
function hashOf(key: string): [number, number] {
  if (last.key === key) return last.hash;
  const digest = hash('sha256', key, 'buffer');
  last = { key, hash: [digest.readUInt32LE(0), digest.readUInt32LE(4)] };
  return last.hash;
}
