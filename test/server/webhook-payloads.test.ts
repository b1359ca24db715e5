import { describe, it, expect } from 'vitest';
import { parseForgeEvent } from '../../server/webhooks/forge-payload.ts';
import { parseTrackerEvent } from '../../server/webhooks/tracker-payload.ts';
import type { TrackerStateMap } from '../../server/webhooks/tracker-payload.ts';
import { forgeDeliveryKey, trackerDeliveryKey } from '../../server/webhooks/delivery-key.ts';
import type { ForgeFact, TrackerFact } from '../../server/webhooks/facts.ts';

const SHA = 'a'.repeat(40);
const SHA2 = 'b'.repeat(40);
const repository = { id: 1, full_name: 'acme/shop', private: true };

const githubPr = (action: string, extra: Record<string, unknown> = {}) => ({
  action, number: 12, sender: { login: 'dev' }, repository,
  pull_request: { number: 12, html_url: 'https://github.com/acme/shop/pull/12', head: { ref: 'conveyor/ISS-1', sha: SHA, label: 'x' }, merged: false, merge_commit_sha: SHA2, ...extra },
});
const checkRun = (action: string, conclusion: string | null) => ({
  action, repository,
  check_run: { id: 9, name: 'ci / test', head_sha: SHA, status: 'completed', conclusion, html_url: 'https://ci/9', check_suite: { head_branch: 'conveyor/ISS-1' } },
});
const githubReview = (action: string, state: string, commitId: string | null = SHA2) => ({
  action, repository,
  review: { id: 3, state, body: 'looks good', commit_id: commitId, user: { login: 'rita' } },
  pull_request: { number: 12, head: { ref: 'conveyor/ISS-1', sha: SHA } },
});
const giteaReview = { action: 'reviewed', number: 4, repository, sender: { login: 'rita' }, review: { type: 'pull_request_review_rejected', content: 'add a test' }, pull_request: { number: 4, head: { ref: 'feat', sha: SHA } } };
const wrap = (type: string, data: unknown) => ({ type, timestamp: '2025-01-15T12:00:00Z', data });

type GoodCase = [name: string, event: string | undefined, body: unknown, fact: ForgeFact];
const goodForge: GoodCase[] = [
  ['GitHub commit status with branches', 'status',
    { sha: SHA, state: 'success', context: 'ci/test', target_url: 'https://ci/1', description: 'passed', repository, branches: [{ name: 'conveyor/ISS-1', commit: {} }] },
    { kind: 'ci.status', repo: 'acme/shop', sha: SHA, state: 'success', context: 'ci/test', url: 'https://ci/1', description: 'passed', branches: ['conveyor/ISS-1'] }],
  ['GitHub commit status with null url and description', 'status',
    { sha: SHA, state: 'error', context: 'ci', target_url: null, description: null, repository, branches: [] },
    { kind: 'ci.status', repo: 'acme/shop', sha: SHA, state: 'error', context: 'ci', branches: [] }],
  ['Gitea commit status warning as failure', 'status',
    { sha: SHA, state: 'warning', context: 'drone', target_url: '', description: 'flaky', repository },
    { kind: 'ci.status', repo: 'acme/shop', sha: SHA, state: 'failure', context: 'drone', description: 'flaky', branches: [] }],
  ['Gitea commit status pending', 'status', { sha: SHA, state: 'pending', context: 'drone', repository },
    { kind: 'ci.status', repo: 'acme/shop', sha: SHA, state: 'pending', context: 'drone', branches: [] }],
  ['check_run completed success', 'check_run', checkRun('completed', 'success'),
    { kind: 'ci.status', repo: 'acme/shop', sha: SHA, state: 'success', context: 'ci / test', url: 'https://ci/9', branches: ['conveyor/ISS-1'] }],
  ['check_run neutral as success', 'check_run', checkRun('completed', 'neutral'),
    { kind: 'ci.status', repo: 'acme/shop', sha: SHA, state: 'success', context: 'ci / test', url: 'https://ci/9', branches: ['conveyor/ISS-1'] }],
  ['check_run skipped as success', 'check_run', checkRun('completed', 'skipped'),
    { kind: 'ci.status', repo: 'acme/shop', sha: SHA, state: 'success', context: 'ci / test', url: 'https://ci/9', branches: ['conveyor/ISS-1'] }],
  ['check_run timed_out as failure', 'check_run', checkRun('completed', 'timed_out'),
    { kind: 'ci.status', repo: 'acme/shop', sha: SHA, state: 'failure', context: 'ci / test', url: 'https://ci/9', branches: ['conveyor/ISS-1'] }],
  ['check_run action_required as failure', 'check_run', checkRun('completed', 'action_required'),
    { kind: 'ci.status', repo: 'acme/shop', sha: SHA, state: 'failure', context: 'ci / test', url: 'https://ci/9', branches: ['conveyor/ISS-1'] }],
  ['check_run with an unheard-of conclusion as error', 'check_run', checkRun('completed', 'startup_failure'),
    { kind: 'ci.status', repo: 'acme/shop', sha: SHA, state: 'error', context: 'ci / test', url: 'https://ci/9', branches: ['conveyor/ISS-1'] }],
  ['check_run still running', 'check_run', checkRun('created', null), { kind: 'noop', reason: 'check_run created: not completed yet' }],
  ['GitHub pull request opened', 'pull_request', githubPr('opened'),
    { kind: 'pr.opened', repo: 'acme/shop', number: 12, branch: 'conveyor/ISS-1', sha: SHA, url: 'https://github.com/acme/shop/pull/12' }],
  ['pull request reopened as opened', 'pull_request', githubPr('reopened'),
    { kind: 'pr.opened', repo: 'acme/shop', number: 12, branch: 'conveyor/ISS-1', sha: SHA, url: 'https://github.com/acme/shop/pull/12' }],
  ['GitHub synchronize', 'pull_request', githubPr('synchronize'),
    { kind: 'pr.synchronized', repo: 'acme/shop', number: 12, branch: 'conveyor/ISS-1', sha: SHA, url: 'https://github.com/acme/shop/pull/12' }],
  ['Gitea synchronized', 'pull_request', githubPr('synchronized', { html_url: undefined }),
    { kind: 'pr.synchronized', repo: 'acme/shop', number: 12, branch: 'conveyor/ISS-1', sha: SHA }],
  ['pull request merged', 'pull_request', githubPr('closed', { merged: true }),
    { kind: 'pr.closed', repo: 'acme/shop', number: 12, branch: 'conveyor/ISS-1', sha: SHA, merged: true, mergeSha: SHA2 }],
  ['pull request closed unmerged, ignoring the test merge sha', 'pull_request', githubPr('closed'),
    { kind: 'pr.closed', repo: 'acme/shop', number: 12, branch: 'conveyor/ISS-1', sha: SHA, merged: false }],
  ['pull request edited', 'pull_request', { action: 'edited' }, { kind: 'noop', reason: 'pull_request edited: nothing for conveyor to do' }],
  ['GitHub review approved at its commit', 'pull_request_review', githubReview('submitted', 'approved'),
    { kind: 'review.verdict', repo: 'acme/shop', number: 12, branch: 'conveyor/ISS-1', sha: SHA2, verdict: 'approved', comments: 'looks good', reviewer: 'rita' }],
  ['GitHub review CHANGES_REQUESTED in capitals, at the head when no commit', 'pull_request_review', githubReview('submitted', 'CHANGES_REQUESTED', null),
    { kind: 'review.verdict', repo: 'acme/shop', number: 12, branch: 'conveyor/ISS-1', sha: SHA, verdict: 'changes_requested', comments: 'looks good', reviewer: 'rita' }],
  ['GitHub review comment only', 'pull_request_review', githubReview('submitted', 'commented'), { kind: 'noop', reason: 'pull_request_review commented: not a verdict' }],
  ['GitHub review dismissed', 'pull_request_review', githubReview('dismissed', 'dismissed'),
    { kind: 'noop', reason: 'pull_request_review dismissed: only submitted reviews carry a verdict' }],
  ['Gitea review rejected', 'pull_request_rejected', giteaReview,
    { kind: 'review.verdict', repo: 'acme/shop', number: 4, branch: 'feat', sha: SHA, verdict: 'changes_requested', comments: 'add a test', reviewer: 'rita' }],
  ['Gitea review approved under its event-type name', 'pull_request_review_approved', { ...giteaReview, review: { type: 'x', content: '' } },
    { kind: 'review.verdict', repo: 'acme/shop', number: 4, branch: 'feat', sha: SHA, verdict: 'approved', reviewer: 'rita' }],
  ['Gitea review approved without review', 'pull_request_approved', { ...giteaReview, review: undefined, sender: undefined },
    { kind: 'review.verdict', repo: 'acme/shop', number: 4, branch: 'feat', sha: SHA, verdict: 'approved' }],
  ['ping', 'ping', { zen: 'Keep it logically awesome.', hook_id: 1 }, { kind: 'noop', reason: 'ping: not an event conveyor acts on' }],
  ['push', 'push', { ref: 'refs/heads/main' }, { kind: 'noop', reason: 'push: not an event conveyor acts on' }],
  ['event header in another case', 'Pull_Request', githubPr('opened'),
    { kind: 'pr.opened', repo: 'acme/shop', number: 12, branch: 'conveyor/ISS-1', sha: SHA, url: 'https://github.com/acme/shop/pull/12' }],
  ['Standard Webhooks pull_request', undefined, wrap('pull_request', githubPr('opened')),
    { kind: 'pr.opened', repo: 'acme/shop', number: 12, branch: 'conveyor/ISS-1', sha: SHA, url: 'https://github.com/acme/shop/pull/12' }],
  ['Standard Webhooks status', undefined, wrap('status', { sha: SHA, state: 'failure', context: 'ci', repository }),
    { kind: 'ci.status', repo: 'acme/shop', sha: SHA, state: 'failure', context: 'ci', branches: [] }],
  ['Standard Webhooks review', undefined, wrap('pull_request_review', githubReview('submitted', 'approved')),
    { kind: 'review.verdict', repo: 'acme/shop', number: 12, branch: 'conveyor/ISS-1', sha: SHA2, verdict: 'approved', comments: 'looks good', reviewer: 'rita' }],
  ['Standard Webhooks with an empty event header', '', wrap('ping', {}), { kind: 'noop', reason: 'ping: not an event conveyor acts on' }],
];

describe('parseForgeEvent accepts', () => {
  it.each(goodForge)('%s', (_name, event, body, fact) => {
    // Strict: an optional field is absent, not present with the value undefined.
    expect(parseForgeEvent(event, JSON.stringify(body))).toStrictEqual({ ok: true, fact });
  });
});

type BadCase = [name: string, event: string | undefined, raw: string, status: 400 | 422, code: string, field: string | undefined];
const json = (v: unknown) => JSON.stringify(v);
const badForge: BadCase[] = [
  ['truncated JSON', 'pull_request', '{"action":', 400, 'bad_json', undefined],
  ['an empty body', 'status', '', 400, 'bad_json', undefined],
  ['an unknown event', 'deployment', json({}), 422, 'unknown_event', undefined],
  ['a body that is an array', 'pull_request', '[]', 422, 'invalid_payload', undefined],
  ['a missing action', 'pull_request', json({ number: 1 }), 422, 'invalid_payload', 'action'],
  ['a missing head sha', 'pull_request', json(githubPr('opened', { head: { ref: 'x' } })), 422, 'invalid_payload', 'pull_request.head.sha'],
  ['a number given as text', 'pull_request', json({ ...githubPr('opened'), number: '12' }), 422, 'invalid_payload', 'number'],
  ['a missing merged flag on close', 'pull_request', json(githubPr('closed', { merged: undefined })), 422, 'invalid_payload', 'pull_request.merged'],
  ['a missing repository', 'pull_request', json({ ...githubPr('opened'), repository: undefined }), 422, 'invalid_payload', 'repository'],
  ['an unknown status state', 'status', json({ sha: SHA, state: 'green', context: 'ci', repository }), 422, 'invalid_payload', 'state'],
  ['an empty status sha', 'status', json({ sha: '', state: 'success', context: 'ci', repository }), 422, 'invalid_payload', 'sha'],
  ['a branch without a name', 'status', json({ sha: SHA, state: 'success', context: 'ci', repository, branches: [{}] }), 422, 'invalid_payload', 'branches.0.name'],
  ['a completed check run without conclusion', 'check_run', json(checkRun('completed', null)), 422, 'invalid_payload', 'check_run.conclusion'],
  ['a review without state', 'pull_request_review', json({ ...githubReview('submitted', 'x'), review: { body: 'hi' } }), 422, 'invalid_payload', 'review.state'],
  ['a Gitea review without head', 'pull_request_approved', json({ ...giteaReview, pull_request: { number: 4 } }), 422, 'invalid_payload', 'pull_request.head'],
  ['a Standard Webhooks body without type', undefined, json({ data: {} }), 422, 'invalid_payload', 'type'],
  ['a Standard Webhooks body whose data is not an object', undefined, json({ type: 'status', data: 'x' }), 422, 'invalid_payload', 'data'],
  ['a Standard Webhooks unknown type', undefined, json(wrap('deployment_status', {})), 422, 'unknown_event', undefined],
  ['a Standard Webhooks payload missing a field', undefined, json(wrap('pull_request', githubPr('opened', { head: { sha: SHA } }))), 422, 'invalid_payload', 'data.pull_request.head.ref'],
];

describe('parseForgeEvent refuses', () => {
  it.each(badForge)('%s', (_name, event, raw, status, code, field) => {
    const result = parseForgeEvent(event, raw);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect({ status: result.status, code: result.code, field: result.field }).toEqual({ status, code, field });
    expect(result.message).toMatch(/^webhooks: /);
    if (field !== undefined) expect(result.message).toContain(field);
  });

  it('names the unknown event in its message', () => {
    const result = parseForgeEvent('deployment', '{}');
    expect(result).toMatchObject({ ok: false, message: "webhooks: unknown forge event 'deployment'" });
  });

  it('says a missing field is missing', () => {
    const result = parseForgeEvent('pull_request', json(githubPr('opened', { head: { ref: 'x' } })));
    expect(result).toMatchObject({ ok: false, message: 'webhooks: forge pull_request field pull_request.head.sha is missing (expected string)' });
  });

  it('answers every odd body with a result instead of throwing', () => {
    const bodies = ['null', '"text"', '42', 'true', '[]', '{}', '{"action":null}', '{"data":null}', '{"type":"__proto__","data":{}}', '\u0000'];
    const events = [undefined, 'status', 'check_run', 'pull_request', 'pull_request_review', 'pull_request_approved', 'constructor', '__proto__'];
    for (const raw of bodies) for (const event of events) {
      const result = parseForgeEvent(event, raw);
      expect(typeof result.ok).toBe('boolean');
    }
    expect(parseForgeEvent('constructor', '{}')).toMatchObject({ ok: false, code: 'unknown_event' });
  });
});

const stateMap: TrackerStateMap = {
  'st-progress': { group: 'started', meaning: 'start', name: 'In Progress' },
  'st-approved': { group: 'started', meaning: 'approved', name: 'Approved' },
  'st-done': { group: 'completed', meaning: 'done' },
};
const planeIssue = (action: string, data: Record<string, unknown>, field: string | null = 'state') => ({
  event: 'issue', action, webhook_id: 'wh-1', workspace_id: 'ws-1',
  data: { id: 'iss-1', name: 'Add checkout', project: 'prj-1', state: 'st-progress', updated_at: '2025-01-15T12:00:00Z', priority: 'high', ...data },
  activity: { field, new_value: 'In Progress', old_value: 'Todo', actor: { id: 'u1' } },
});
const issueFields = { issueId: 'iss-1', projectId: 'prj-1', title: 'Add checkout', updatedAt: '2025-01-15T12:00:00Z', blockedBy: [] };

type TrackerCase = [name: string, event: string | undefined, body: unknown, fact: TrackerFact];
const goodTracker: TrackerCase[] = [
  ['a state change to a mapped state', 'issue', planeIssue('updated', {}),
    { kind: 'issue.state', ...issueFields, stateId: 'st-progress', group: 'started', meaning: 'start' }],
  ['a state given as an object', 'issue', planeIssue('updated', { state: { id: 'st-approved', name: 'Approved', group: 'started' } }),
    { kind: 'issue.state', ...issueFields, stateId: 'st-approved', group: 'started', meaning: 'approved' }],
  ['an unmapped state object, whose group it keeps', 'issue', planeIssue('updated', { state: { id: 'st-qa', name: 'QA', group: 'started' } }),
    { kind: 'issue.state', ...issueFields, stateId: 'st-qa', group: 'started', meaning: 'other' }],
  ['an unmapped state id, with no group', 'issue', planeIssue('updated', { state: 'st-qa' }),
    { kind: 'issue.state', ...issueFields, stateId: 'st-qa', group: null, meaning: 'other' }],
  ['an unmapped state whose group Plane invented later', 'issue', planeIssue('updated', { state: { id: 'st-t', group: 'triage' } }),
    { kind: 'issue.state', ...issueFields, stateId: 'st-t', group: null, meaning: 'other' }],
  ['a state id that is an Object property name', 'issue', planeIssue('updated', { state: 'constructor' }),
    { kind: 'issue.state', ...issueFields, stateId: 'constructor', group: null, meaning: 'other' }],
  ['an update of another field that carries the state', 'issue', planeIssue('updated', { state: 'st-done' }, 'priority'),
    { kind: 'noop', reason: 'issue updated: priority changed, not the state' }],
  ['a created issue', 'issue', planeIssue('created', {}, null),
    { kind: 'issue.created', ...issueFields, stateId: 'st-progress', group: 'started', meaning: 'start' }],
  ['conveyor extensions', 'issue', planeIssue('updated', { repo: 'acme/shop', branch: 'conveyor/iss-1', blocked_by: ['iss-0', 'iss-9'] }),
    { kind: 'issue.state', ...issueFields, stateId: 'st-progress', group: 'started', meaning: 'start', repo: 'acme/shop', branch: 'conveyor/iss-1', blockedBy: ['iss-0', 'iss-9'] }],
  ['no event header, the body naming it', undefined, planeIssue('updated', {}),
    { kind: 'issue.state', ...issueFields, stateId: 'st-progress', group: 'started', meaning: 'start' }],
  ['an issue without project or update time', 'issue', planeIssue('updated', { project: null, updated_at: undefined }),
    { kind: 'issue.state', issueId: 'iss-1', title: 'Add checkout', blockedBy: [], stateId: 'st-progress', group: 'started', meaning: 'start' }],
  ['an update that does not touch the state', 'issue', planeIssue('updated', { state: undefined }, 'name'),
    { kind: 'noop', reason: 'issue updated: name changed, not the state' }],
  ['a deleted issue', 'issue', { event: 'issue', action: 'deleted', data: { id: 'iss-1' } }, { kind: 'noop', reason: 'issue deleted: nothing for conveyor to do' }],
  ['a project event', 'project', { event: 'project', action: 'updated', data: {} }, { kind: 'noop', reason: 'project: not an issue event' }],
  ['a cycle event', 'cycle', {}, { kind: 'noop', reason: 'cycle: not an issue event' }],
  ['a module event', 'module', {}, { kind: 'noop', reason: 'module: not an issue event' }],
  ['an issue comment not addressed to conveyor', 'issue_comment', { event: 'issue_comment', action: 'created', data: { id: 'c-1', issue: 'issue-1', comment_html: '<p>hi</p>' } }, { kind: 'noop', reason: 'issue_comment: not addressed to conveyor' }],
];

describe('parseTrackerEvent accepts', () => {
  it.each(goodTracker)('%s', (_name, event, body, fact) => {
    expect(parseTrackerEvent(event, JSON.stringify(body), stateMap)).toStrictEqual({ ok: true, fact });
  });
});

const badTracker: BadCase[] = [
  ['truncated JSON', 'issue', '{"event":"issue"', 400, 'bad_json', undefined],
  ['an unknown event', 'label', json({}), 422, 'unknown_event', undefined],
  ['an unknown event named only by the body', undefined, json({ event: 'label' }), 422, 'unknown_event', undefined],
  ['no event anywhere', undefined, json({ action: 'updated' }), 422, 'invalid_payload', 'event'],
  ['a body that is not an object', undefined, '"issue"', 422, 'invalid_payload', undefined],
  ['a missing action', 'issue', json({ event: 'issue', data: {} }), 422, 'invalid_payload', 'action'],
  ['a state change without the state', 'issue', json(planeIssue('updated', { state: undefined })), 422, 'invalid_payload', 'data.state'],
  ['a state of the wrong type', 'issue', json(planeIssue('updated', { state: 7 })), 422, 'invalid_payload', 'data.state'],
  ['a created issue without id', 'issue', json(planeIssue('created', { id: undefined })), 422, 'invalid_payload', 'data.id'],
  ['a title of the wrong type', 'issue', json(planeIssue('updated', { name: ['x'] })), 422, 'invalid_payload', 'data.name'],
  ['blockers that are not ids', 'issue', json(planeIssue('updated', { blocked_by: [3] })), 422, 'invalid_payload', 'data.blocked_by.0'],
  ['an update without data', 'issue', json({ event: 'issue', action: 'updated' }), 422, 'invalid_payload', 'data'],
];

describe('parseTrackerEvent refuses', () => {
  it.each(badTracker)('%s', (_name, event, raw, status, code, field) => {
    const result = parseTrackerEvent(event, raw, stateMap);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect({ status: result.status, code: result.code, field: result.field }).toEqual({ status, code, field });
    expect(result.message).toMatch(/^webhooks: /);
    if (field !== undefined) expect(result.message).toContain(field);
  });

  it('names the unknown event in its message', () => {
    expect(parseTrackerEvent('label', '{}', stateMap)).toMatchObject({ ok: false, message: "webhooks: unknown tracker event 'label'" });
  });
});

describe('delivery keys', () => {
  it('keys a Standard Webhooks delivery by its signed webhook-id alone, whatever else its headers say', () => {
    expect(forgeDeliveryKey('standard', { 'webhook-id': 'msg_3', 'x-gitea-delivery': 'invented' }, '{"a":1}')).toBe('forge:webhook-id:msg_3');
    expect(forgeDeliveryKey('standard', { 'webhook-id': 'msg_3' }, '{"a":2}')).toBe('forge:webhook-id:msg_3');
  });

  it('keys a Gitea or GitHub delivery by its signed body, so a new delivery header on an old body is the same delivery', () => {
    const body = Buffer.from('{"action":"opened"}');
    const key = forgeDeliveryKey('github', { 'x-github-delivery': 'h-2' }, body);
    expect(forgeDeliveryKey('github', { 'x-github-delivery': 'h-invented' }, body)).toBe(key);
    expect(forgeDeliveryKey('gitea', {}, body)).toBe(key);
    expect(forgeDeliveryKey('github', { 'x-github-delivery': 'h-2' }, Buffer.from('{"action":"opened" }'))).not.toBe(key);
  });

  const trackerKey = (body: unknown) => {
    const result = parseTrackerEvent('issue', JSON.stringify(body), stateMap);
    if (!result.ok) throw new Error(result.message);
    return trackerDeliveryKey(result.fact);
  };

  it('gives two retries of one tracker change the same key, though Plane sends them with new delivery ids', () => {
    const first = { ...planeIssue('updated', {}), webhook_id: 'delivery-a' };
    const retry = { ...planeIssue('updated', {}), webhook_id: 'delivery-b' };
    expect(trackerKey(first)).toBe('tracker:iss-1:state:st-progress:2025-01-15T12:00:00Z');
    expect(trackerKey(retry)).toBe(trackerKey(first));
  });

  it('gives a later move back to the same state a new key', () => {
    const later = planeIssue('updated', { updated_at: '2025-01-16T09:00:00Z' });
    expect(trackerKey(later)).not.toBe(trackerKey(planeIssue('updated', {})));
  });

  it('keys a change without update time by issue and state', () => {
    expect(trackerKey(planeIssue('updated', { updated_at: undefined }))).toBe('tracker:iss-1:state:st-progress');
  });

  it('has no tracker key for a fact conveyor ignores', () => {
    expect(trackerDeliveryKey({ kind: 'noop', reason: 'cycle' })).toBeUndefined();
  });
});
