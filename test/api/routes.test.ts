import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Router } from 'express';
import { z } from 'zod';
import { buildOpenApiDocument, openApiDocument } from '../../src/api/openapi';
import { operation } from '../../src/api/operation';
import { API_OPERATIONS } from '../../src/api/routeTable';
import { createApiRouter } from '../../src/api/router';
import { createLogger } from '../../src/server/logger';
import { makeApp } from './helpers';
import { testConfig } from '../helpers/config';

/**
 * The OpenAPI document and the Express router come from one route table: every route Express serves under /api/v1 is
 * in the document with the same method, and every operation of the document is a route Express serves. Read from
 * Express's own routing stack, so a route added beside the table (r.get(...)) fails here.
 */

interface Layer {
  route?: { path: string; methods: Record<string, boolean> };
  handle: { stack?: Layer[] } & object;
  match(path: string): boolean;
}

const METHODS = new Set(['get', 'put', 'post', 'patch', 'delete']);

function servedRoutes(router: Router): { routes: string[]; nested: number } {
  const stack = (router as unknown as { stack: Layer[] }).stack;
  const routes: string[] = [];
  let nested = 0;
  for (const layer of stack) {
    if (layer.route) {
      const path = layer.route.path.replace(/:([A-Za-z_][A-Za-z0-9_]*)/g, '{$1}');
      for (const [method, on] of Object.entries(layer.route.methods)) if (on && METHODS.has(method)) routes.push(`${method} ${path}`);
    } else if (Array.isArray(layer.handle.stack)) {
      nested++;
    }
  }
  return { routes: routes.sort(), nested };
}

function documentedOperations(doc: Record<string, unknown>): string[] {
  const out: string[] = [];
  for (const [path, item] of Object.entries(doc.paths as Record<string, Record<string, unknown>>)) {
    for (const method of Object.keys(item)) if (METHODS.has(method)) out.push(`${method} ${path}`);
  }
  return out.sort();
}

describe('admin API route table', () => {
  it('serves exactly the operations its OpenAPI document lists, and nothing beside them', () => {
    const router = createApiRouter({ config: testConfig(), logger: createLogger('silent') });
    const { routes, nested } = servedRoutes(router);
    const documented = documentedOperations(openApiDocument('http://localhost:8080'));
    assert.ok(routes.length >= 50, `the router serves ${routes.length} routes`);
    assert.deepEqual(routes, documented);
    // No sub-router hides routes from this comparison.
    assert.equal(nested, 0);
    assert.equal(new Set(routes).size, routes.length, 'no route is registered twice');
  });

  it('mounts that router at /api/v1 of the service', () => {
    const app = makeApp();
    const appStack = (app as unknown as { router: { stack: Layer[] } }).router.stack;
    const mounted = appStack.filter((l) => !l.route && Array.isArray(l.handle.stack) && l.match('/api/v1/organization'));
    assert.equal(mounted.length, 1);
    const { routes } = servedRoutes(mounted[0]!.handle as unknown as Router);
    assert.deepEqual(routes, documentedOperations(openApiDocument('http://localhost:8080')));
  });

  it('documents each operation with the zod schemas that validate it', () => {
    const doc = openApiDocument('http://localhost:8080') as { paths: Record<string, Record<string, any>> };
    for (const op of API_OPERATIONS) {
      const documented = doc.paths[op.path]?.[op.method];
      assert.ok(documented, `${op.method} ${op.path}`);
      const names = (documented.parameters ?? []).map((p: { name: string; in: string }) => `${p.in}:${p.name}`).sort();
      const expected = [
        ...Object.keys((op.params as z.ZodObject | undefined)?.shape ?? {}).map((n) => `path:${n}`),
        ...Object.keys((op.query as z.ZodObject | undefined)?.shape ?? {}).map((n) => `query:${n}`),
      ].sort();
      assert.deepEqual(names, expected, `parameters of ${op.method} ${op.path}`);
      // Every {name} of the template is a path parameter.
      for (const m of op.path.matchAll(/\{([^}]+)\}/g)) assert.ok(names.includes(`path:${m[1]}`), `${op.path} declares ${m[1]}`);
      assert.equal(Boolean(documented.requestBody), Boolean(op.body ?? op.rawBody), `request body of ${op.method} ${op.path}`);
      if (op.access !== 'public') {
        for (const status of ['400', '401', '403', '503']) assert.ok(documented.responses[status], `${op.method} ${op.path} ${status}`);
      }
    }
  });

  it('states what the validators enforce (issue #14 item 10)', () => {
    const doc = openApiDocument('http://localhost:8080') as any;
    const body = (path: string, method: string) => doc.paths[path][method].requestBody.content['application/json'].schema;
    const param = (path: string, method: string, name: string) =>
      doc.paths[path][method].parameters.find((p: { name: string }) => p.name === name);
    // Names and filters are never empty.
    assert.equal(body('/segments', 'post').properties.name.minLength, 1);
    assert.equal(body('/segments', 'post').properties.filter.minLength, 1);
    assert.equal(body('/tokens', 'post').properties.name.minLength, 1);
    assert.equal(param('/recipients', 'get', 'filter').schema.minLength, 1);
    assert.ok(body('/segments', 'post').properties.name.pattern, 'a blank name is refused: the pattern says so');
    // The cursor's pattern, the email's format, the attribute priority's shape.
    assert.equal(param('/recipients', 'get', 'cursor').schema.pattern, '^[A-Za-z0-9_-]{0,400}$');
    assert.equal(body('/recipients', 'post').properties.email.format, 'email');
    const priority = body('/organization', 'patch').properties.attributePriority;
    assert.deepEqual([priority.minItems, priority.maxItems, priority.uniqueItems], [5, 5, true]);
    // The public-key format.
    const sftp = body('/connections', 'post').oneOf.find((s: any) => s.properties.type.const === 'sftp');
    assert.match(sftp.properties.publicKeys.items.pattern, /^\^ssh-ed25519 /);
    // Numeric query parameters are integers with their bounds and defaults.
    for (const [path, name, min, max, def] of [
      ['/recipients', 'limit', 1, 500, 50],
      ['/events', 'limit', 1, 500, 100],
      ['/audiences/{id}/preview', 'sample', 0, 100, 10],
    ] as const) {
      const s = param(path, 'get', name).schema;
      assert.deepEqual([s.type, s.minimum, s.maximum, s.default], ['integer', min, max, def], `${path} ${name}`);
    }
  });

  it('refuses two different schemas under one component name', () => {
    const A = z.strictObject({ a: z.string() }).meta({ id: 'Twice' });
    const B = z.strictObject({ b: z.string() }).meta({ id: 'Twice' });
    const ops = [
      operation({ method: 'get', path: '/a', access: 'read', summary: 'a', responses: { 200: { description: 'OK', json: A } } }),
      operation({ method: 'get', path: '/b', access: 'read', summary: 'b', responses: { 200: { description: 'OK', json: B } } }),
    ];
    assert.throws(() => buildOpenApiDocument('http://x', ops), /two different schemas are named Twice/);
  });
});
