import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ForgeApiState {
  /** Open pull requests by branch. */
  pulls(): { number: number; branch: string; sha: string }[];
  /** CI statuses the forge knows for a sha, whether or not their webhooks were delivered. */
  statuses(sha: string): { state: string; context: string; target_url: string; description: string }[];
}

/**
 * The simulated forge's read API: the Gitea REST subset the reconciler probes (open pull requests, the
 * combined status of a sha), served on loopback.
 */
export async function serveForgeApi(state: ForgeApiState, repo: string): Promise<{ apiBase: string; close(): Promise<void> }> {
  const prefix = `/api/v1/repos/${repo}/${repo}`;
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://forge');
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.method !== 'GET' || !url.pathname.startsWith(prefix)) return send(404, { message: 'not found' });
    const path = url.pathname.slice(prefix.length);
    if (path === '/pulls') {
      return send(200, state.pulls().map((p) => ({ number: p.number, state: 'open', head: { ref: p.branch, sha: p.sha }, html_url: `https://forge.example/${repo}/pulls/${p.number}` })));
    }
    const status = /^\/commits\/([0-9a-f]+)\/status$/.exec(path);
    if (status) {
      const rows = state.statuses(status[1]!);
      const combined = rows.length === 0 ? 'pending' : rows.every((r) => r.state === 'success') ? 'success' : 'failure';
      return send(200, { sha: status[1], state: combined, statuses: rows.map((r) => ({ ...r, status: r.state })) });
    }
    return send(404, { message: 'not found' });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    apiBase: `http://127.0.0.1:${port}/api/v1`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
