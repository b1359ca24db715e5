import type { Context } from 'hono';
import type { z } from 'zod';
import { HttpError } from './http-error.ts';

/** The dotted path of a zod issue, for the error's `field`. */
export function issuePath(path: readonly PropertyKey[]): string {
  return path.map(String).join('.');
}

/** Parses and validates a JSON body; bad JSON is 400, a bad field is 422 naming it. */
export async function jsonBody<T extends z.ZodType>(c: Context, schema: T): Promise<z.infer<T>> {
  const raw = await c.req.text();
  let data: unknown;
  try {
    data = raw.length === 0 ? {} : JSON.parse(raw);
  } catch (e) {
    throw new HttpError('bad_json', `body is not valid JSON: ${(e as Error).message}`);
  }
  const parsed = schema.safeParse(data);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = issuePath(issue.path) || (issue.code === 'unrecognized_keys' ? issue.keys.join(',') : '');
    throw new HttpError('invalid_payload', `${field || 'body'}: ${issue.message}`, field || undefined);
  }
  return parsed.data;
}
