import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { asGithubDelivery, githubExample } from '../support/github-examples.ts';
import { giteaDelivery, githubDelivery, makeTestApp, planeDelivery, REPO, waitForState, type TestApp } from '../support/http-fixtures.ts';

const PR = 12;

/** Plane's comment webhook for a new comment on an issue. */
const planeComment = (issueId: string, commentId: string, html: string) => ({
  event: 'issue_comment', action: 'created', webhook_id: 'wh-1', workspace_id: 'ws-1',
  data: { id: commentId, issue: issueId, project: 'proj-1', comment_html: html, actor_detail: { display_name: 'Pat' } },
});

describe('steering by comment', () => {
  let t: TestApp;
  let taskId: string;
  const steers = () => t.conveyor.history(taskId).filter((e) => e.event.type === 'task.steer');

  beforeEach(async () => {
    t = await makeTestApp();
    ({ taskId } = await t.conveyor.createTask({ repo: REPO, title: 'steer me', trackerIssueId: 'issue-9', branch: 'feature/steer' }, { source: 'operator' }));
    await waitForState(t.conveyor, taskId, 'analysis.gating');
  });
  afterEach(async () => t.close());

  it("a tracker comment addressed to conveyor is kept for the stage's next run, once per comment", async () => {
    const delivery = planeDelivery(planeComment('issue-9', 'c-1', '<p>@conveyor please also cover the empty cart</p>'), { event: 'issue_comment' });
    const res = await t.deliver(delivery);
    expect(res.status).toBe(200);
    expect(steers()).toEqual([expect.objectContaining({ accepted: true, source: 'webhook', event: expect.objectContaining({ text: 'please also cover the empty cart', by: 'Pat', via: 'tracker issue' }) })]);
    expect(t.conveyor.task(taskId)?.context.steering).toEqual([expect.objectContaining({ text: 'please also cover the empty cart', via: 'tracker issue' })]);
    expect(await (await t.deliver(delivery)).json()).toMatchObject({ outcome: { status: 'duplicate' } });
    expect(steers()).toHaveLength(1);
  });

  it("takes neither conveyor's own progress comment nor a comment not addressed to it", async () => {
    for (const [id, html] of [['c-2', '<!-- conveyor:progress --><p>@conveyor · stage analysis</p>'], ['c-3', '<p>looks good to me</p>']] as const) {
      const res = await t.deliver(planeDelivery(planeComment('issue-9', id, html), { event: 'issue_comment' }));
      expect(await res.json()).toMatchObject({ outcome: { status: 'noop' } });
    }
    expect(steers()).toEqual([]);
  });

  describe('on the pull request', () => {
    beforeEach(async () => {
      await t.conveyor.send(taskId, { type: 'pr.opened', number: PR, sha: 'a'.repeat(40) }, { source: 'webhook' });
    });

    it("takes GitHub's issue_comment on the pull request", async () => {
      const example = asGithubDelivery(githubExample('issue_comment', 'created'), { owner: 'acme', repo: 'shop', number: PR }) as Record<string, Record<string, unknown>>;
      example.issue!.number = PR;
      example.issue!.pull_request = { url: `https://api.github.com/repos/acme/shop/pulls/${PR}` };
      example.comment!.body = '/conveyor use the new pricing API';
      const res = await t.deliver(githubDelivery('issue_comment', example));
      expect(res.status).toBe(200);
      expect(steers().at(-1)?.event).toMatchObject({ text: 'use the new pricing API', via: 'pull request' });
    });

    it("takes GitHub's pull_request_review_comment", async () => {
      const example = asGithubDelivery(githubExample('pull_request_review_comment', 'created'), { owner: 'acme', repo: 'shop', number: PR }) as Record<string, Record<string, unknown>>;
      example.pull_request!.number = PR;
      example.comment!.body = '@conveyor rename this variable';
      const res = await t.deliver(githubDelivery('pull_request_review_comment', example));
      expect(res.status).toBe(200);
      expect(steers().at(-1)?.event).toMatchObject({ text: 'rename this variable' });
    });

    it("takes Gitea's issue_comment on a pull request and refuses one on a plain issue as noop", async () => {
      const body = (isPull: boolean) => ({
        action: 'created', is_pull: isPull, repository: { id: 1, full_name: REPO },
        issue: { number: PR, pull_request: isPull ? { merged: false } : null },
        comment: { id: 77, body: '@conveyor: add a test for it', user: { login: 'sam' } },
      });
      expect(await (await t.deliver(giteaDelivery('issue_comment', body(false)))).json()).toMatchObject({ outcome: { status: 'noop' } });
      expect((await t.deliver(giteaDelivery('issue_comment', body(true)))).status).toBe(200);
      expect(steers().at(-1)?.event).toMatchObject({ text: 'add a test for it', by: 'sam' });
    });
  });
});
