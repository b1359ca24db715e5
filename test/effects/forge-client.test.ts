import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ForgeClient, forgeError, NonRetriableError, RetriableError } from '../../actors/index.ts';
import { ForgeDouble } from '../support/forge-double.ts';

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0)) await c();
});

async function gitea() {
  const double = await ForgeDouble.start();
  closers.push(() => double.close());
  return { double, client: new ForgeClient({ repos: { shop: double.config() } }) };
}

/** A GitHub-like endpoint that records what it was asked and answers with `reply`. */
async function githubLike(reply: (req: IncomingMessage, body: string) => { status: number; body: unknown }) {
  const seen: { method: string; url: string; auth: string; body: string }[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', auth: req.headers.authorization ?? '', body });
      const r = reply(req, body);
      res.writeHead(r.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(r.body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(() => new Promise((resolve) => server.close(() => resolve())));
  const apiBase = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { seen, client: new ForgeClient({ repos: { api: { kind: 'github', apiBase, owner: 'acme', repo: 'api', token: 'ghp_x' } } }) };
}

describe('ForgeClient', () => {
  it('reads and merges a Gitea pull request', async () => {
    const { double, client } = await gitea();
    const pr = double.addPullRequest({ head: 'feature', headSha: 'a'.repeat(40) });
    expect(await client.getPullRequest('shop', pr.number)).toEqual({ ok: true, value: { merged: false, mergeSha: null, headSha: 'a'.repeat(40), state: 'open' } });
    expect(await client.mergePullRequest('shop', pr.number, { sha: 'a'.repeat(40) })).toEqual({ ok: true, value: { mergeSha: null } });
    const after = await client.getPullRequest('shop', pr.number);
    expect(after).toMatchObject({ ok: true, value: { merged: true, state: 'closed', mergeSha: pr.mergeSha } });
    expect(double.requests.map((r) => `${r.method} ${r.path}`)).toContain(`POST /api/v1/repos/acme/shop/pulls/${pr.number}/merge`);
  });

  it('classifies merging an already merged pull request as not mergeable and final', async () => {
    const { double, client } = await gitea();
    const pr = double.addPullRequest({ head: 'feature', headSha: 'b'.repeat(40) });
    await client.mergePullRequest('shop', pr.number);
    const again = await client.mergePullRequest('shop', pr.number);
    expect(again).toMatchObject({ ok: false, failure: { kind: 'not_mergeable', status: 405, retriable: false } });
    if (!again.ok) expect(forgeError(again.failure)).toBeInstanceOf(NonRetriableError);
    expect(pr.merges).toBe(1);
  });

  it('classifies a head that moved (409) as final, a 5xx as retriable and a bad token as final', async () => {
    const { double, client } = await gitea();
    const pr = double.addPullRequest({ head: 'feature', headSha: 'c'.repeat(40) });
    expect(await client.mergePullRequest('shop', pr.number, { sha: 'd'.repeat(40) })).toMatchObject({ ok: false, failure: { kind: 'not_mergeable', status: 409, retriable: false } });
    double.failMerges(1, { status: 503, message: 'maintenance' });
    const outage = await client.mergePullRequest('shop', pr.number);
    expect(outage).toMatchObject({ ok: false, failure: { kind: 'unavailable', status: 503, retriable: true } });
    if (!outage.ok) expect(forgeError(outage.failure)).toBeInstanceOf(RetriableError);
    const stranger = new ForgeClient({ repos: { shop: { ...double.config(), token: 'wrong' } } });
    expect(await stranger.getPullRequest('shop', pr.number)).toMatchObject({ ok: false, failure: { kind: 'unauthorized', status: 401, retriable: false } });
    expect(pr.merges).toBe(0);
  });

  it('classifies an unreachable forge as retriable and an unconfigured repository as final', async () => {
    const { double } = await gitea();
    const config = double.config();
    await double.close();
    closers.length = 0;
    const client = new ForgeClient({ repos: { shop: config } });
    expect(await client.getPullRequest('shop', 1)).toMatchObject({ ok: false, failure: { kind: 'network', retriable: true } });
    expect(await client.getPullRequest('elsewhere', 1)).toMatchObject({ ok: false, failure: { kind: 'not_configured', retriable: false } });
  });

  it('reads the combined status of a commit', async () => {
    const { double, client } = await gitea();
    double.setStatus('e'.repeat(40), 'ci/build', 'success');
    double.setStatus('e'.repeat(40), 'ci/lint', 'failure');
    expect(await client.getCombinedStatus('shop', 'e'.repeat(40))).toEqual({
      ok: true,
      value: { state: 'failure', statuses: [{ context: 'ci/build', state: 'success' }, { context: 'ci/lint', state: 'failure' }] },
    });
  });

  it('speaks GitHub’s dialect: PUT merge with the expected sha and a bearer token', async () => {
    const { seen, client } = await githubLike((req) =>
      req.method === 'PUT'
        ? { status: 200, body: { sha: 'f'.repeat(40), merged: true, message: 'Pull Request successfully merged' } }
        : { status: 200, body: { number: 7, state: 'closed', merged: true, merge_commit_sha: 'f'.repeat(40), head: { sha: '1'.repeat(40) } } },
    );
    expect(await client.mergePullRequest('api', 7, { sha: '1'.repeat(40) })).toEqual({ ok: true, value: { mergeSha: 'f'.repeat(40) } });
    expect(await client.getPullRequest('api', 7)).toEqual({ ok: true, value: { merged: true, mergeSha: 'f'.repeat(40), headSha: '1'.repeat(40), state: 'closed' } });
    expect(seen[0]).toEqual({ method: 'PUT', url: '/repos/acme/api/pulls/7/merge', auth: 'Bearer ghp_x', body: JSON.stringify({ merge_method: 'merge', sha: '1'.repeat(40) }) });
    expect(seen[1]).toMatchObject({ method: 'GET', url: '/repos/acme/api/pulls/7' });
  });
});
