import type { Context } from 'hono';
import { HttpError } from '../http-error.ts';

/** Where an item sits in its list's order: its sort fields, ending with a unique id. */
export type SortKey = readonly (string | number)[];

export interface PageQuery {
  /** The sort key of the last item of the previous page; null for the first page. */
  after: SortKey | null;
  limit: number;
}

export interface Page<T> {
  items: T[];
  /** The cursor of the next page, or null on the last one. */
  next: string | null;
}

export const DEFAULT_LIMIT = 100;
export const MAX_LIMIT = 1000;

const encode = (key: SortKey) => Buffer.from(JSON.stringify(key)).toString('base64url');

function decode(cursor: string): SortKey {
  let key: unknown;
  try {
    key = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    key = null;
  }
  if (!Array.isArray(key) || key.length === 0 || !key.every((k) => typeof k === 'string' || typeof k === 'number')) {
    throw new HttpError('invalid_payload', 'cursor is not one this server handed out; pass the `next` of the previous page', 'cursor');
  }
  return key as SortKey;
}

/** Reads `cursor` and `limit` from the query string; a bad one is a 422 naming it. */
export function pageQuery(c: Context): PageQuery {
  const cursor = c.req.query('cursor');
  const rawLimit = c.req.query('limit');
  const limit = rawLimit === undefined ? DEFAULT_LIMIT : Number(rawLimit);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) {
    throw new HttpError('invalid_payload', `limit must be a whole number 1..${MAX_LIMIT}, not ${rawLimit}`, 'limit');
  }
  return { after: cursor === undefined || cursor === '' ? null : decode(cursor), limit };
}

function compare(a: SortKey, b: SortKey): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x === y) continue;
    if (typeof x !== typeof y) return typeof x === 'number' ? -1 : 1;
    return x < y ? -1 : 1;
  }
  return a.length - b.length;
}

/**
 * One page of a list in a stable order. The cursor is the sort key of the page's last item, not an
 * offset, so items added or removed meanwhile neither repeat nor skip the ones after it.
 */
export function paginate<T>(items: Iterable<T>, keyOf: (item: T) => SortKey, order: 'asc' | 'desc', q: PageQuery): Page<T> {
  const sign = order === 'asc' ? 1 : -1;
  const keyed: { key: SortKey; item: T }[] = [];
  for (const item of items) {
    const key = keyOf(item);
    if (q.after === null || sign * compare(key, q.after) > 0) keyed.push({ key, item });
  }
  keyed.sort((a, b) => sign * compare(a.key, b.key));
  const page = keyed.slice(0, q.limit);
  const last = page[page.length - 1];
  return { items: page.map((k) => k.item), next: keyed.length > q.limit && last ? encode(last.key) : null };
}

/** A query value that must be one of a closed set; anything else is a 422 naming the field. */
export function oneOf<T extends string>(c: Context, field: string, allowed: readonly T[]): T | undefined {
  const value = c.req.query(field);
  if (value === undefined) return undefined;
  if (!allowed.includes(value as T)) throw new HttpError('invalid_payload', `${field} must be one of ${allowed.join(', ')}, not ${value}`, field);
  return value as T;
}

/** Answers `{ [name]: page, next }` for one page of a list read from the request's `cursor` and `limit`. */
export function pagedJson<T>(c: Context, name: string, items: Iterable<T>, keyOf: (item: T) => SortKey, order: 'asc' | 'desc') {
  const page = paginate(items, keyOf, order, pageQuery(c));
  return c.json({ [name]: page.items, next: page.next });
}
