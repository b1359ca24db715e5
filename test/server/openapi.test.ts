import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openApiPath, type OpenApiDocument } from '../../server/openapi/index.ts';
import {
  API_TOKEN, commitStatus, giteaDelivery, makeTestApp, planeDelivery, planeIssue, pullRequest, REPO, waitForState, type TestApp,
} from '../support/http-fixtures.ts';

type Operation = { responses: Record<string, { content?: Record<string, { schema: Record<string, unknown> }> }> };

let t: TestApp;
let doc: OpenApiDocument;

beforeAll(async () => {
  t = await makeTestApp();
  doc = (await (await t.app.request('/api/openapi.json')).json()) as OpenApiDocument;
});

afterAll(async () => {
  await t.close();
});

/** The contract's operation for a concrete path: the template whose segments match it. */
function operationFor(method: string, path: string): Operation | undefined {
  const segments = path.split('?')[0]!.split('/');
  for (const [template, methods] of Object.entries(doc.paths)) {
    const parts = template.split('/');
    if (parts.length !== segments.length) continue;
    if (parts.every((p, i) => p.startsWith('{') || p === segments[i])) {
      const op = (methods as Record<string, Operation | undefined>)[method.toLowerCase()];
      if (op) return op;
    }
  }
  return undefined;
}

const ajv = new Ajv2020({ strict: false, allErrors: true });

/** Checks a real answer against the contract: its status is documented (or an error), its body fits the schema. */
async function conforms(method: string, path: string, res: Response): Promise<void> {
  const op = operationFor(method, path);
  expect(op, `${method} ${path} is in the contract`).toBeDefined();
  const documented = op!.responses[String(res.status)];
  const response = documented ?? op!.responses.default!;
  if (!documented) expect(res.status, `${method} ${path} answered ${res.status}, which only an error may be`).toBeGreaterThanOrEqual(400);
  const [media, content] = Object.entries(response.content ?? {})[0]!;
  expect(res.headers.get('content-type') ?? '', `${method} ${path} content type`).toContain(media.split(';')[0]!);
  if (media !== 'application/json') return;
  const ref = content.schema.$ref as string | undefined;
  const schema = ref ? doc.components.schemas[ref.split('/').pop() as 'Error'] : content.schema;
  const validate = ajv.compile(schema);
  const body: unknown = await res.clone().json();
  expect(validate(body), `${method} ${path} ${res.status}: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(body).slice(0, 400)}`).toBe(true);
}

describe('the OpenAPI contract', () => {
  it('is a valid OpenAPI 3.1 document', async () => {
    const validator = new Validator();
    const result = await validator.validate(doc as never);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');
  });

  it('names every route of the app under /api, /webhooks, /health and /metrics, and no other', () => {
    const served = new Set(
      t.app.routes
        .filter((r) => r.method !== 'ALL' && /^\/(api|webhooks|health|metrics)(\/|$)/.test(r.path))
        .map((r) => `${r.method.toLowerCase()} ${openApiPath(r.path).path}`),
    );
    const documented = new Set(Object.entries(doc.paths).flatMap(([path, methods]) => Object.keys(methods).map((m) => `${m} ${path}`)));
    expect([...served].filter((r) => !documented.has(r))).toEqual([]);
    expect([...documented].filter((r) => !served.has(r))).toEqual([]);
  });

  it('describes request bodies with the schemas the routes validate with', () => {
    const create = (doc.paths['/api/tasks'] as Record<string, { requestBody: { content: Record<string, { schema: { required: string[]; additionalProperties: boolean } }> } }>).post;
    const schema = create!.requestBody.content['application/json']!.schema;
    expect(schema.required).toEqual(['repo', 'title']);
    expect(schema.additionalProperties).toBe(false);
    expect((doc.paths['/api/background/{name}/{action}'] as { post: { parameters: { name: string; schema: { enum?: string[] } }[] } }).post.parameters[1]).toMatchObject({ name: 'action', schema: { enum: ['enable', 'disable'] } });
  });

  it('holds the real answers of every kind of route, errors included', async () => {
    const call = async (method: string, path: string, body?: unknown, token = API_TOKEN) => {
      const res = await t.api(method, path, body, token);
      await conforms(method, `/api${path}`, res);
      return res;
    };
    const deliver = async (d: ReturnType<typeof planeDelivery>) => {
      const res = await t.deliver(d);
      await conforms('POST', d.path, res);
      return res;
    };
    await deliver(planeDelivery(planeIssue('OA-1', 'state-in-progress')));
    const taskId = t.conveyor.taskForIssue('OA-1')!;
    await waitForState(t.conveyor, taskId, 'analysis.gating');
    await deliver(planeDelivery(planeIssue('OA-1', 'state-approved')));
    await deliver(giteaDelivery('pull_request', pullRequest('opened', `conveyor/${taskId}`, 'b'.repeat(40))));
    await deliver(giteaDelivery('status', commitStatus('c'.repeat(40), 'success', { repo: REPO })));
    await deliver(planeDelivery(planeIssue('OA-1', 'state-in-progress'), { secret: 'forged' }));
    await deliver(giteaDelivery('pull_request', pullRequest('opened', 'nobody/branch', 'd'.repeat(40))));

    const created = (await (await call('POST', '/tasks', { repo: 'acme/shop', title: 'By hand' })).json()) as { task: { id: string } };
    const hand = created.task.id;
    await call('POST', '/tasks', { repo: 'acme/shop' });
    await call('GET', '/tasks?limit=1');
    await call('GET', `/tasks/${hand}`);
    await call('GET', `/tasks/${hand}/history`);
    await call('GET', `/tasks/${hand}/snapshot`);
    await call('GET', `/tasks/${hand}/chart.svg`);
    await call('POST', `/tasks/${hand}/dependencies`, { dependsOn: [taskId] });
    await call('POST', `/tasks/${hand}/events`, { type: 'hold', reason: 'contract test' });
    await call('POST', `/tasks/${hand}/events`, { type: 'hold' });
    await call('POST', `/tasks/${hand}/stages/analysis/refresh`);
    await call('GET', '/tasks/nope');
    await call('GET', '/jobs');
    await call('GET', '/jobs/nope');
    await call('GET', '/jobs/nope/log');
    await call('POST', '/jobs/nope/report', { kind: 'test.result', passed: true });
    await call('GET', '/effects');
    await call('POST', '/effects/nope/release', { reason: 'stuck', by: 'pat' });
    const decisions = (await (await call('GET', '/decisions?status=pending')).json()) as { decisions: { id: string; options: string[] }[] };
    await call('GET', '/decisions?status=maybe');
    await call('GET', '/decisions/nope');
    await call('POST', '/decisions/nope/resolve', { option: 'x' });
    if (decisions.decisions[0]) await call('POST', `/decisions/${decisions.decisions[0].id}/resolve`, { option: 'not offered' });
    if (decisions.decisions[0]) await call('POST', `/decisions/${decisions.decisions[0].id}/resolve`, { option: decisions.decisions[0].options[0] });
    const alerts = (await (await call('GET', '/alerts')).json()) as { alerts: { id: string }[] };
    expect(alerts.alerts.length).toBeGreaterThan(0);
    await call('GET', `/alerts/${alerts.alerts[0]!.id}`);
    await call('POST', `/alerts/${alerts.alerts[0]!.id}/ack`, { by: 'pat' });
    await call('POST', `/alerts/${alerts.alerts[0]!.id}/ack`, { by: 'pat' });
    await call('GET', '/status');
    await call('GET', '/background');
    await call('GET', '/machines');
    await call('GET', '/machines/task');
    await call('GET', '/machines/task/chart.svg');
    await call('GET', '/tasks', undefined, 'wrong');
    await call('POST', '/events/ticket');

    for (const path of ['/health', '/metrics', '/api/openapi.json', '/api/docs']) await conforms('GET', path, await t.app.request(path));
  });

  it('serves a readable page of every route', async () => {
    const res = await t.app.request('/api/docs');
    const html = await res.text();
    expect(res.headers.get('content-type')).toContain('text/html');
    for (const path of Object.keys(doc.paths)) expect(html).toContain(`<code>${path}</code>`);
  });
});
