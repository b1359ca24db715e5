import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Hono } from 'hono';
import { HttpError } from '../http-error.ts';
import { consoleMarkup } from './markup.ts';

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

interface Asset {
  body: string;
  type: string;
  etag: string;
}

/** The console's own files, read once: the page is fixed for the life of the process. */
function readAssets(): Map<string, Asset> {
  const dir = fileURLToPath(new URL('./assets/', import.meta.url));
  const assets = new Map<string, Asset>();
  for (const name of readdirSync(dir)) {
    const type = TYPES[extname(name)];
    if (!type) continue;
    const body = readFileSync(`${dir}${name}`, 'utf8');
    assets.set(name, { body, type, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 16)}"` });
  }
  return assets;
}

// Only the console's own scripts and styles may run, and they may talk to their own origin only.
const policy = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/**
 * GET /console: the operator console, a page of markup plus script and style modules under
 * /console/assets/. The page holds no data and needs no token to load: everything it shows comes
 * from the authenticated /api and its event stream.
 */
export function consoleApp() {
  const assets = readAssets();
  const app = new Hono();
  const headers = { 'content-security-policy': policy, 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer' };
  app.get('/', (c) => c.html(consoleMarkup, 200, { ...headers, 'cache-control': 'no-store' }));
  app.get('/assets/:name', (c) => {
    const asset = assets.get(c.req.param('name'));
    if (!asset) throw new HttpError('not_found', `the console has no file ${c.req.param('name')}`, 'name');
    if (c.req.header('if-none-match') === asset.etag) return c.body(null, 304);
    return c.body(asset.body, 200, { ...headers, 'content-type': asset.type, etag: asset.etag, 'cache-control': 'no-cache' });
  });
  return app;
}
