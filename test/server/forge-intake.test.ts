import { sign as octokitSign } from '@octokit/webhooks-methods';
import { Webhook } from 'standardwebhooks';
import { afterEach, describe, expect, it } from 'vitest';
import type { TaskView } from '../../actors/index.ts';
import type { IntakeRepository } from '../../server/webhooks/index.ts';
import { signGithub, signHex } from '../../server/webhooks/signatures.ts';
import { giteaPullRequest, giteaPush, giteaStatus } from '../support/gitea-payloads.ts';
import { asGithubDelivery, githubExample } from '../support/github-examples.ts';
import {
  FORGE_SECRET, giteaDelivery, githubDelivery, makeTestApp, standardDelivery, waitForState, type Delivery, type TestApp,
} from '../support/http-fixtures.ts';

const SHA_A = 'a1'.repeat(20);
const SHA_B = 'b2'.repeat(20);
const APP: IntakeRepository = { name: 'app', forge: { owner: 'acme', repo: 'app' } };
const acme = { owner: 'acme', repo: 'app' };

type Outcome = { status: string; taskId?: string; reason?: string; from?: string };
const outcomeOf = async (res: Response) => ((await res.json()) as { outcome: Outcome }).outcome;

let t: TestApp;
afterEach(async () => {
  await t.close();
});

async function taskInDevelopment(repo = 'app'): Promise<{ id: string; branch: string }> {
  const created = await t.api('POST', '/tasks', { repo, title: 'Add search' });
  const { task } = (await created.json()) as { task: TaskView };
  await waitForState(t.conveyor, task.id, 'analysis.gating');
  await t.api('POST', `/tasks/${task.id}/events`, { type: 'approve' });
  await waitForState(t.conveyor, task.id, 'development.gating');
  return { id: task.id, branch: task.branch };
}

/** GitHub's documented example of an event, moved to acme/app and to the task's branch and head. */
function github(event: string, action: string | undefined, where: { sha?: string; branch?: string; number?: number } = {}, tweak?: (p: Record<string, unknown>) => void) {
  const payload = asGithubDelivery(githubExample(event, action), { ...acme, ...where });
  tweak?.(payload);
  return payload;
}

describe('repository identity as forges send it', () => {
  it('moves a task of forge acme/app on a pull_request then a status in GitHub’s exact shape', async () => {
    t = await makeTestApp({ repositories: [APP] });
    const { id, branch } = await taskInDevelopment();
    const opened = github('pull_request', 'opened', { sha: SHA_A, branch, number: 7 });
    expect(opened.repository).toMatchObject({ full_name: 'acme/app' });

    const pr = await t.deliver(githubDelivery('pull_request', opened));
    expect(pr.status).toBe(200);
    expect(await outcomeOf(pr)).toMatchObject({ status: 'accepted', taskId: id });
    const status = await t.deliver(githubDelivery('status', github('status', undefined, { sha: SHA_A, branch })));
    expect(await outcomeOf(status)).toMatchObject({ status: 'accepted', taskId: id, from: 'development.gating' });
    await waitForState(t.conveyor, id, 'review.gating');
  });

  it('takes every GitHub event conveyor subscribes to, in GitHub’s shapes, and answers a ping 200', async () => {
    t = await makeTestApp({ repositories: [APP] });
    const { id, branch } = await taskInDevelopment();
    const at = { sha: SHA_A, branch, number: 7 };
    const approved = (p: Record<string, unknown>) => Object.assign(p.review as object, { state: 'approved' });
    const passed = (p: Record<string, unknown>) => Object.assign(p.check_run as object, { conclusion: 'success' });
    const cases: [string, Record<string, unknown>, number, string][] = [
      ['ping', github('ping', undefined), 200, 'noop'],
      ['push', github('push', undefined), 200, 'noop'],
      ['pull_request', github('pull_request', 'opened', at), 200, 'accepted'],
      ['pull_request', github('pull_request', 'synchronize', { ...at, sha: SHA_B }), 200, 'accepted'],
      ['check_suite', github('check_suite', 'completed'), 200, 'noop'],
      ['check_run', github('check_run', 'completed', { ...at, sha: SHA_B }, passed), 200, 'accepted'],
      ['status', github('status', undefined, { ...at, sha: SHA_B }), 200, 'accepted'],
      ['pull_request_review', github('pull_request_review', 'submitted', { ...at, sha: SHA_B }, approved), 200, 'accepted'],
      ['pull_request', github('pull_request', 'closed', { ...at, sha: SHA_B }), 200, 'accepted'],
    ];
    for (const [event, payload, code, status] of cases) {
      const res = await t.deliver(githubDelivery(event, payload));
      expect({ event, code: res.status, status: (await outcomeOf(res)).status }).toEqual({ event, code, status });
    }
    const types = t.conveyor.history(id).filter((h) => h.source === 'webhook').map((h) => h.event.type);
    expect(types).toEqual(['pr.opened', 'pr.synchronized', 'ci.status', 'ci.status', 'review.verdict', 'pr.closed']);
  });

  it('takes Gitea’s pull_request, status, review and push deliveries in Gitea’s shapes', async () => {
    t = await makeTestApp({ repositories: [APP] });
    const { id, branch } = await taskInDevelopment();
    const pr = (action: string, sha: string, extra = {}) => giteaPullRequest(acme, action, { number: 3, branch, sha, ...extra });
    const cases: [string, unknown, string][] = [
      ['push', giteaPush(acme, { branch, sha: SHA_A }), 'noop'],
      ['pull_request', pr('opened', SHA_A), 'accepted'],
      ['pull_request', pr('synchronized', SHA_B), 'accepted'],
      ['status', giteaStatus(acme, { sha: SHA_B, state: 'success' }), 'accepted'],
      ['pull_request_approved', pr('reviewed', SHA_B, { review: { type: 'pull_request_review_approved', content: 'LGTM' } }), 'accepted'],
      ['pull_request', pr('closed', SHA_B, { merged: true }), 'accepted'],
    ];
    for (const [event, payload, status] of cases) {
      const res = await t.deliver(giteaDelivery(event, payload));
      expect({ event, status: (await outcomeOf(res)).status }).toEqual({ event, status });
    }
    const types = t.conveyor.history(id).filter((h) => h.source === 'webhook').map((h) => h.event.type);
    expect(types).toEqual(['pr.opened', 'pr.synchronized', 'ci.status', 'review.verdict', 'pr.merged']);
    expect(t.conveyor.task(id)?.stage).not.toBe('development');
  });

  it('matches owner/repo in any case, and by clone_url when full_name differs', async () => {
    t = await makeTestApp({ repositories: [APP] });
    const { id, branch } = await taskInDevelopment();
    const shouted = github('pull_request', 'opened', { sha: SHA_A, branch });
    (shouted.repository as Record<string, unknown>).full_name = 'ACME/App';
    expect(await outcomeOf(await t.deliver(githubDelivery('pull_request', shouted)))).toMatchObject({ status: 'accepted', taskId: id });
    const renamed = giteaPullRequest(acme, 'synchronized', { number: 3, branch, sha: SHA_B });
    renamed.repository.full_name = 'acme-old/app';
    expect(await outcomeOf(await t.deliver(giteaDelivery('pull_request', renamed)))).toMatchObject({ status: 'accepted', taskId: id });
  });

  it('leaves a delivery of a repository that is not configured unrouted, and keeps one alert however often it comes', async () => {
    t = await makeTestApp({ repositories: [APP] });
    const other = asGithubDelivery(githubExample('status'), { owner: 'acme', repo: 'web', sha: SHA_A });
    for (let i = 0; i < 3; i++) {
      const res = await t.deliver(githubDelivery('status', other));
      expect(res.status).toBe(i === 0 ? 202 : 200);
      const outcome = await outcomeOf(res);
      expect(outcome.status).toBe(i === 0 ? 'unrouted' : 'duplicate');
      if (i === 0) expect(outcome.reason).toBe('repository acme/web is not configured');
    }
    expect(t.conveyor.alerts()).toHaveLength(1);
  });
});

describe('secrets per repository', () => {
  const ROTATION_ENDS = Date.UTC(2026, 11, 1);
  const rotating: IntakeRepository = { ...APP, secret: { current: 'app-new', previous: 'app-old', previousUntil: ROTATION_ENDS } };

  it('checks a repository’s deliveries against its own secret, and the old one too until the rotation ends', async () => {
    let now = ROTATION_ENDS - 60_000;
    t = await makeTestApp({ repositories: [rotating], now: () => now });
    const { branch } = await taskInDevelopment();
    const body = (sha: string) => github('pull_request', 'synchronize', { sha, branch });
    expect((await t.deliver(githubDelivery('pull_request', body(SHA_A), { secret: FORGE_SECRET }))).status).toBe(401);
    expect((await t.deliver(githubDelivery('pull_request', body(SHA_A), { secret: 'app-new' }))).status).toBe(200);
    expect((await t.deliver(giteaDelivery('pull_request', giteaPullRequest(acme, 'synchronized', { number: 1, branch, sha: SHA_B }), { secret: 'app-old' }))).status).toBe(200);
    now = ROTATION_ENDS + 1;
    const late = await t.deliver(githubDelivery('pull_request', body('c3'.repeat(20)), { secret: 'app-old' }));
    expect(late.status).toBe(401);
  });

  it('accepts deliveries signed by @octokit/webhooks-methods and by the standardwebhooks package', async () => {
    t = await makeTestApp({ repositories: [APP] });
    const { id, branch } = await taskInDevelopment();
    const body = JSON.stringify(github('pull_request', 'opened', { sha: SHA_A, branch }));
    const signed = await t.deliver({
      path: '/webhooks/forge', body,
      headers: { 'content-type': 'application/json', 'x-github-event': 'pull_request', 'x-github-delivery': 'd-1', 'x-hub-signature-256': await octokitSign(FORGE_SECRET, body) },
    });
    expect(await outcomeOf(signed)).toMatchObject({ status: 'accepted', taskId: id });
    const envelope = JSON.stringify({ type: 'status', timestamp: new Date().toISOString(), data: github('status', undefined, { sha: SHA_A, branch }) });
    const secret = `whsec_${Buffer.from(FORGE_SECRET).toString('base64')}`;
    const headers = new Webhook(secret).sign('msg_lib', new Date(), envelope);
    const standard = await t.deliver({
      path: '/webhooks/forge', body: envelope,
      headers: { 'content-type': 'application/json', 'webhook-id': 'msg_lib', 'webhook-timestamp': String(Math.floor(Date.now() / 1000)), 'webhook-signature': headers },
    });
    expect(await outcomeOf(standard)).toMatchObject({ status: 'accepted', taskId: id });
  });

  it('verifies over the raw bytes: a body with a byte order mark or bytes that are not UTF-8 keeps its signature', async () => {
    t = await makeTestApp({ repositories: [APP] });
    const { id, branch } = await taskInDevelopment();
    const json = Buffer.from(JSON.stringify(github('pull_request', 'opened', { sha: SHA_A, branch })));
    const withBom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), json]);
    const bom = await t.app.request('/webhooks/forge', {
      method: 'POST', body: withBom,
      headers: { 'content-type': 'application/json', 'x-github-event': 'pull_request', 'x-hub-signature-256': signGithub(FORGE_SECRET, withBom) },
    });
    expect(await outcomeOf(bom)).toMatchObject({ status: 'accepted', taskId: id });
    // A stray 0xff inside a string value: not UTF-8, still the bytes the forge signed.
    const status = Buffer.from(JSON.stringify(github('status', undefined, { sha: SHA_A, branch })).replace('"context":"default"', '"context":"ci-\u0001"'));
    const invalid = Buffer.from(status.map((b) => (b === 0x01 ? 0xff : b)));
    const res = await t.app.request('/webhooks/forge', {
      method: 'POST', body: invalid,
      headers: { 'content-type': 'application/json', 'x-gitea-event': 'status', 'x-gitea-signature': signHex(FORGE_SECRET, invalid) },
    });
    expect(await outcomeOf(res)).toMatchObject({ status: 'accepted', taskId: id });
  });
});

describe('deduplication on what is signed', () => {
  const replay = (d: Delivery, headers: Record<string, string>): Delivery => ({ ...d, headers: { ...d.headers, ...headers } });

  it('takes a GitHub body replayed under a new X-GitHub-Delivery as the same delivery', async () => {
    t = await makeTestApp({ repositories: [APP] });
    const { id, branch } = await taskInDevelopment();
    const first = githubDelivery('pull_request', github('pull_request', 'opened', { sha: SHA_A, branch }), { deliveryId: 'gh-1' });
    expect(await outcomeOf(await t.deliver(first))).toMatchObject({ status: 'accepted' });
    const before = t.conveyor.history(id).length;
    expect(await outcomeOf(await t.deliver(replay(first, { 'x-github-delivery': 'gh-invented' })))).toMatchObject({ status: 'duplicate' });
    expect(t.conveyor.history(id)).toHaveLength(before);
  });

  it('keys a Standard Webhooks delivery by its signed webhook-id, whatever delivery header is added', async () => {
    t = await makeTestApp({ repositories: [APP] });
    const { id, branch } = await taskInDevelopment();
    const first = standardDelivery('pull_request', github('pull_request', 'opened', { sha: SHA_A, branch }), { id: 'msg-1' });
    expect(await outcomeOf(await t.deliver(first))).toMatchObject({ status: 'accepted' });
    const before = t.conveyor.history(id).length;
    expect(await outcomeOf(await t.deliver(replay(first, { 'x-gitea-delivery': 'invented-1' })))).toMatchObject({ status: 'duplicate' });
    expect(t.conveyor.history(id)).toHaveLength(before);
  });

  it('refuses a Standard Webhooks delivery older than its replay window with 401', async () => {
    t = await makeTestApp({ repositories: [APP] });
    const { branch } = await taskInDevelopment();
    const old = standardDelivery('pull_request', github('pull_request', 'opened', { sha: SHA_A, branch }), { timestampSec: Math.floor(Date.now() / 1000) - 6 * 60 });
    const res = await t.deliver(old);
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: { message: string } }).error.message).toContain('more than 5 minutes old');
  });
});
