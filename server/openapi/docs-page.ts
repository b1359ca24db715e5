import type { OpenApiDocument } from './document.ts';

const escape = (s: string) => s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
const pretty = (value: unknown) => `<pre>${escape(JSON.stringify(value, null, 2))}</pre>`;

interface Operation {
  summary: string;
  security: Record<string, string[]>[];
  parameters?: { name: string; in: string; required: boolean; schema: unknown }[];
  requestBody?: { content: Record<string, { schema: unknown }> };
  responses: Record<string, { description: string; content?: Record<string, { schema: unknown }> }>;
}

function operationHtml(method: string, path: string, op: Operation): string {
  const auth = op.security.map((s) => Object.keys(s)[0] ?? 'none').join(' or ') || 'none';
  const params = (op.parameters ?? []).map((p) => `<li><code>${escape(p.name)}</code> in ${p.in}${p.required ? ', required' : ''}: <code>${escape(JSON.stringify(p.schema))}</code></li>`).join('');
  const body = op.requestBody ? `<h4>Body</h4>${pretty(op.requestBody.content['application/json']?.schema)}` : '';
  const responses = Object.entries(op.responses)
    .map(([status, r]) => {
      const [media, content] = Object.entries(r.content ?? {})[0] ?? [];
      return `<details><summary><b>${escape(status)}</b> ${escape(r.description)}${media ? ` <small>${escape(media)}</small>` : ''}</summary>${content ? pretty(content.schema) : ''}</details>`;
    })
    .join('');
  return `<section id="${escape(`${method}-${path}`)}"><h3><span class="m ${method}">${method.toUpperCase()}</span> <code>${escape(path)}</code></h3>
<p>${escape(op.summary)} <small>auth: ${escape(auth)}</small></p>${params ? `<h4>Parameters</h4><ul>${params}</ul>` : ''}${body}<h4>Responses</h4>${responses}</section>`;
}

/** The contract as one self-contained page (no script, nothing fetched), grouped by tag. */
export function docsPage(doc: OpenApiDocument): string {
  const byTag = new Map<string, string[]>();
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [method, raw] of Object.entries(methods)) {
      const op = raw as Operation & { tags: string[] };
      const tag = op.tags[0] ?? 'other';
      byTag.set(tag, [...(byTag.get(tag) ?? []), operationHtml(method, path, op)]);
    }
  }
  const toc = [...byTag.keys()].map((t) => `<a href="#tag-${escape(t)}">${escape(t)}</a>`).join(' · ');
  const sections = [...byTag.entries()].map(([tag, ops]) => `<h2 id="tag-${escape(tag)}">${escape(tag)}</h2>${ops.join('')}`).join('');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escape(doc.info.title)} API</title>
<style>body{font:14px/1.45 system-ui,sans-serif;max-width:960px;margin:2em auto;padding:0 1em;color:#222}
section{border-top:1px solid #ddd;padding:.4em 0}pre{background:#f6f6f6;padding:.6em;overflow:auto;font-size:12px}
.m{display:inline-block;min-width:3.5em;text-align:center;border-radius:3px;color:#fff;font-size:12px;padding:1px 4px}
.get{background:#2a7ae2}.post{background:#2e9b4a}.delete{background:#c0392b}small{color:#666}h3{margin:.3em 0}h4{margin:.5em 0 .2em}</style></head>
<body><h1>${escape(doc.info.title)} API <small>OpenAPI ${escape(doc.openapi)}, version ${escape(doc.info.version)}</small></h1>
<p>${escape(doc.info.description)} The machine-readable contract is <a href="/api/openapi.json">/api/openapi.json</a>.</p>
<p>${toc}</p>${sections}</body></html>`;
}
