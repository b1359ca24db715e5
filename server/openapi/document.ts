import { z } from 'zod';
import { contractRoutes, type ContentKind, type ContractRoute, type RouteAuth } from './routes.ts';
import { errorBody } from './schemas.ts';

type JsonSchema = Record<string, unknown>;

const MEDIA: Record<ContentKind, string> = {
  json: 'application/json',
  text: 'text/plain',
  svg: 'image/svg+xml',
  html: 'text/html',
  javascript: 'text/javascript',
  prometheus: 'text/plain; version=0.0.4',
  'event-stream': 'text/event-stream',
};

const SECURITY: Record<RouteAuth, Record<string, string[]>[]> = {
  api: [{ apiToken: [] }],
  job: [{ jobToken: [] }, { apiToken: [] }],
  stream: [{ apiToken: [] }, { streamTicket: [] }],
  tracker: [{ trackerSignature: [] }],
  forge: [{ forgeSignature: [] }, { githubSignature: [] }, { standardWebhookSignature: [] }],
  // No token configured means no token asked for: the empty requirement.
  metrics: [{ metricsToken: [] }, {}],
  none: [],
};

const SECURITY_SCHEMES = {
  apiToken: { type: 'http', scheme: 'bearer', description: 'the operator token, CONVEYOR_API_TOKEN' },
  jobToken: { type: 'http', scheme: 'bearer', description: 'the token of this very job, valid while it runs (in the agent\'s environment)' },
  metricsToken: { type: 'http', scheme: 'bearer', description: 'CONVEYOR_METRICS_TOKEN, when set' },
  streamTicket: { type: 'apiKey', in: 'cookie', name: 'conveyor_stream', description: 'set by POST /api/events/ticket' },
  trackerSignature: { type: 'apiKey', in: 'header', name: 'X-Plane-Signature', description: 'hex HMAC-SHA256 of the raw body with the tracker secret' },
  forgeSignature: { type: 'apiKey', in: 'header', name: 'X-Gitea-Signature', description: 'hex HMAC-SHA256 of the raw body with the forge secret' },
  githubSignature: { type: 'apiKey', in: 'header', name: 'X-Hub-Signature-256', description: 'sha256=<hex HMAC-SHA256 of the raw body>' },
  standardWebhookSignature: { type: 'apiKey', in: 'header', name: 'webhook-signature', description: 'Standard Webhooks: v1,<base64 HMAC of id.timestamp.body>, with webhook-id and webhook-timestamp' },
};

/** A zod schema as JSON Schema 2020-12, the dialect of OpenAPI 3.1. */
export function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { target: 'draft-2020-12', io, unrepresentable: 'any' }) as JsonSchema;
  return rest;
}

/** `/api/tasks/:id` as OpenAPI writes it, `/api/tasks/{id}`, with its path parameters (a `{a|b}` pattern becomes an enum). */
export function openApiPath(path: string): { path: string; params: { name: string; values?: string[] }[] } {
  const params: { name: string; values?: string[] }[] = [];
  const converted = path.replace(/:(\w+)(?:\{([^}]*)\})?/g, (_m, name: string, pattern: string | undefined) => {
    const values = pattern !== undefined && /^[\w.-]+(\|[\w.-]+)*$/.test(pattern) ? pattern.split('|') : undefined;
    params.push(values ? { name, values } : { name });
    return `{${name}}`;
  });
  return { path: converted, params };
}

function operation(route: ContractRoute, params: { name: string; values?: string[] }[]) {
  const parameters: JsonSchema[] = params.map((p) => ({ name: p.name, in: 'path', required: true, schema: p.values ? { type: 'string', enum: p.values } : { type: 'string' } }));
  for (const [name, field] of Object.entries(route.query?.shape ?? {})) {
    const schema = field as z.ZodType;
    parameters.push({ name, in: 'query', required: !schema.safeParse(undefined).success, schema: jsonSchema(schema, 'input'), ...(schema.description ? { description: schema.description } : {}) });
  }
  const responses: Record<string, unknown> = {};
  for (const [status, r] of Object.entries(route.responses)) {
    const media = MEDIA[r.content ?? 'json'];
    responses[status] = { description: r.description, content: { [media]: { schema: r.schema ? jsonSchema(r.schema, 'output') : { type: 'string' } } } };
  }
  responses.default = { description: 'an error: `{ error: { code, message, field? } }`', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };
  return {
    operationId: `${route.method}${route.path.replace(/\{[^}]*\}/g, '').replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ?? '').toUpperCase())}`,
    summary: route.summary,
    tags: [route.tag],
    security: SECURITY[route.auth],
    ...(parameters.length > 0 ? { parameters } : {}),
    ...(route.body ? { requestBody: { required: true, content: { 'application/json': { schema: jsonSchema(route.body, 'input') } } } } : {}),
    responses,
  };
}

/** The OpenAPI 3.1 document of conveyor's HTTP interface, built from the routes' own zod schemas. */
export function openApiDocument(routes: readonly ContractRoute[] = contractRoutes) {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    const { path, params } = openApiPath(route.path);
    (paths[path] ??= {})[route.method] = operation(route, params);
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'conveyor',
      version: '0.1.0',
      description: 'A durable orchestrator for software-delivery pipelines. Webhooks in, operator API, agent reports, metrics.',
    },
    tags: [...new Set(routes.map((r) => r.tag))].map((name) => ({ name })),
    paths,
    components: { schemas: { Error: jsonSchema(errorBody, 'output') }, securitySchemes: SECURITY_SCHEMES },
  };
}

export type OpenApiDocument = ReturnType<typeof openApiDocument>;
