import { createHash } from 'node:crypto';
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
    this.#put(hi, lo, at);
  }

  /** Whether some key was first seen before `at`. */
  hasBefore(at: number): boolean {
    return this.#oldest < at;
  }

  /** Forgets every key first seen before `before`. */
  prune(before: number): void {
    if (!(this.#oldest < before)) return;
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

  /**
   * The slots of keys held here and not in `before` (an earlier copy of this window), or null when `before` holds
   * a key this one does not (a prune took it): then only the whole window says what is held.
   */
  async addedSince(before: DeliveryWindow, turn: Turn): Promise<number[] | null> {
    const added: number[] = [];
    for (let slot = 0; slot < this.#at.length; slot++) {
      if (Number.isNaN(this.#at[slot]!)) continue;
      if (Number.isNaN(before.#at[before.#slot(this.#hi[slot]!, this.#lo[slot]!)]!)) added.push(slot);
      if (slot % PACK_PIECE_KEYS === 0) await turn(PACK_PIECE_KEYS);
    }
    return before.#size + added.length === this.#size ? added : null;
  }

  /**
   * Keys packed for a checkpoint (all held, or those of `slots`), base64 of 16 bytes per key, handed to `emit` in
   * pieces that join into one text (each but the last a multiple of 3 bytes, so without padding), a turn weighing
   * its bytes after each.
   */
  async pack(emit: (base64: string) => void, turn: Turn, slots?: readonly number[]): Promise<void> {
    const piece = Buffer.alloc(PACK_PIECE_KEYS * PACKED);
    const view = new DataView(piece.buffer, piece.byteOffset, piece.length);
    let offset = 0;
    const count = slots?.length ?? this.#at.length;
    for (let i = 0; i < count; i++) {
      const slot = slots?.[i] ?? i;
      const at = this.#at[slot]!;
      if (Number.isNaN(at)) continue;
      view.setUint32(offset, this.#hi[slot]!, true);
      view.setUint32(offset + 4, this.#lo[slot]!, true);
      view.setFloat64(offset + 8, at, true);
      offset += PACKED;
      if (offset === piece.length) {
        emit(piece.toString('base64'));
        offset = 0;
        await turn(piece.length);
      }
    }
    if (offset > 0) emit(piece.toString('base64', 0, offset));
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

  #put(hi: number, lo: number, at: number): void {
    const slot = this.#slot(hi, lo);
    if (!Number.isNaN(this.#at[slot]!)) return;
    this.#hi[slot] = hi;
    this.#lo[slot] = lo;
    this.#at[slot] = at;
    this.#size++;
    if (at < this.#oldest) this.#oldest = at;
    // Linear probing stays short below three quarters full.
    if (this.#size * 4 > this.#at.length * 3) this.#grow();
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

/** The first 64 bits of the key's SHA-256: stable across versions, since checkpoints keep only the hash. */
function hashOf(key: string): [number, number] {
  const digest = createHash('sha256').update(key, 'utf8').digest();
  return [digest.readUInt32LE(0), digest.readUInt32LE(4)];
}
