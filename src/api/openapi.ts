import { z } from 'zod';
import type { OperationSpec, ResponseSpec } from './operation';
import { API_OPERATIONS } from './routeTable';
import { Problem } from './schemas';

/**
 * The OpenAPI 3.1 document of the admin API, generated from the route table (`routeTable.ts`): the zod schemas that
 * validate each request become its parameters and request body (zod's JSON Schema output of their input side), and the
 * zod schemas of the responses become its response bodies and components. Nothing in it is written by hand beside
 * the validators. test/api/matrix.test.ts checks every response of the route × role matrix against it, and
 * test/api/schemathesis.test.ts runs schemathesis over it.
 */

type Json = Record<string, unknown>;

const COMPONENT_PREFIX = '#/components/schemas/';

/** Collects the named schemas (zod `.meta({ id })`) met while converting, as the document's components. */
class Components {
  readonly schemas: Record<string, Json> = {};

  /** JSON Schema of one zod schema; its named parts are hoisted into the components and referenced. */
  convert(schema: z.ZodType, io: 'input' | 'output'): Json {
    const out = z.toJSONSchema(schema, { target: 'draft-2020-12', io, unrepresentable: 'any' }) as Json;
    const defs = (out.$defs ?? {}) as Record<string, Json>;
    delete out.$defs;
    delete out.$schema;
    for (const [id, def] of Object.entries(defs)) {
      const text = JSON.stringify(retarget(def));
      const known = this.schemas[id];
      if (known && JSON.stringify(known) !== text) throw new Error(`two different schemas are named ${id} in the OpenAPI document`);
      this.schemas[id] = JSON.parse(text) as Json;
    }
    return retarget(out);
  }
}

function retarget(schema: Json): Json {
  return JSON.parse(JSON.stringify(schema).replace(/"#\/\$defs\//g, `"${COMPONENT_PREFIX}`)) as Json;
}

/** What every operation may answer besides its own responses. */
function commonResponses(op: OperationSpec): Record<number, ResponseSpec> {
  const out: Record<number, ResponseSpec> = {};
  if (op.access !== 'public') {
    out[400] = { description: 'invalid request (body, query, filter or reference)', problem: true };
    out[401] = { description: 'missing or invalid token', problem: true };
    out[403] = { description: 'the token role does not allow this', problem: true };
  }
  if (op.path.includes('{')) out[404] = { description: 'no such resource in this organization', problem: true };
  if (op.body) {
    out[413] = { description: 'the request body is larger than this server accepts', problem: true };
    out[415] = { description: 'the request body is not application/json', problem: true };
  }
  // Node's HTTP parser answers this itself, before any route, to a request line and headers over its limit (16 KiB).
  out[431] = { description: 'the request line and headers are larger than the server reads (a very long query string)' };
  out[503] = { description: 'the store is unreachable', problem: true };
  return out;
}

function responseObject(spec: ResponseSpec, components: Components): Json {
  const content: Record<string, Json> = {};
  if (spec.json) content['application/json'] = { schema: components.convert(spec.json, 'output') };
  if (spec.csv) content['text/csv'] = { schema: { type: 'string' } };
  if (spec.problem) content['application/problem+json'] = { schema: components.convert(Problem, 'output') };
  const out: Json = { description: spec.description };
  if (Object.keys(content).length) out.content = content;
  return out;
}

/** Each property of a z.object as one parameter (path or query). */
function parameters(schema: z.ZodType | undefined, where: 'path' | 'query', components: Components): Json[] {
  if (!schema) return [];
  const json = components.convert(schema, 'input');
  const props = (json.properties ?? {}) as Record<string, Json>;
  const required = new Set((json.required ?? []) as string[]);
  return Object.entries(props).map(([name, s]) => {
    const { description, ...rest } = s;
    const p: Json = { name, in: where, required: where === 'path' || required.has(name), schema: rest };
    if (typeof description === 'string') p.description = description;
    return p;
  });
}

function operationObject(op: OperationSpec, components: Components): Json {
  const out: Json = { summary: op.summary };
  if (op.description) out.description = op.description;
  if (op.access === 'public') out.security = [];
  const params = [...parameters(op.params, 'path', components), ...parameters(op.query, 'query', components)];
  if (params.length) out.parameters = params;
  if (op.body) out.requestBody = { required: true, content: { 'application/json': { schema: components.convert(op.body, 'input') } } };
  if (op.rawBody)
    out.requestBody = { required: true, content: Object.fromEntries(Object.entries(op.rawBody).map(([t, s]) => [t, { schema: s }])) };
  const responses: Record<string, Json> = {};
  const all = { ...commonResponses(op), ...op.responses };
  for (const status of Object.keys(all).sort()) responses[status] = responseObject(all[Number(status)]!, components);
  out.responses = responses;
  return out;
}

export function buildOpenApiDocument(publicUrl: string, operations: readonly OperationSpec[]): Json {
  const components = new Components();
  const paths: Record<string, Json> = {};
  for (const op of operations) {
    const item = (paths[op.path] ??= {});
    if (item[op.method]) throw new Error(`${op.method.toUpperCase()} ${op.path} is in the route table twice`);
    item[op.method] = operationObject(op, components);
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'audience-sync Admin API',
      version: '1.0.0',
      description:
        'Audiences, recipients, CSV uploads and connections. Bearer tokens are scoped to one organization with a role: owners manage tokens; owners and admins manage connections, uploads, sync runs, segments and audiences; members read recipients, groups, segments and audiences with the recipients:read permission. Resources of another organization answer 404. Errors are RFC 9457 problem documents. A method a documented path does not list answers 405 with an Allow header naming the methods it has (OPTIONS answers 204 with the same header; HEAD is answered wherever GET is); a path not documented here answers 404. This document is generated from the schemas that validate the requests.',
    },
    servers: [{ url: `${publicUrl}/api/v1` }],
    security: [{ bearer: [] }],
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      schemas: Object.fromEntries(Object.entries(components.schemas).sort(([a], [b]) => a.localeCompare(b))),
      responses: {
        MethodNotAllowed: {
          description: 'the path exists but not with this method; Allow lists its methods',
          content: { 'application/problem+json': { schema: { $ref: `${COMPONENT_PREFIX}Problem` } } },
          headers: { Allow: { schema: { type: 'string' } } },
        },
      },
    },
    paths,
  };
}

/** The admin API's document. */
export function openApiDocument(publicUrl: string): Record<string, unknown> {
  return buildOpenApiDocument(publicUrl, API_OPERATIONS);
}
