import assert from 'node:assert/strict';
import Ajv2020, { type ValidateFunction } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { openApiDocument } from '../../src/api/openapi';

/**
 * Holds real responses to the OpenAPI document with a full JSON Schema 2020-12 validator (Ajv, the dialect OpenAPI 3.1
 * uses): every keyword the document states (types, required, additionalProperties, enum, const, patterns, bounds,
 * anyOf/oneOf, $ref) is checked, and a keyword Ajv does not know fails the compile.
 */
type Schema = Record<string, any>;
const doc = openApiDocument('http://localhost:8080') as any;

const ajv = new Ajv2020({ allErrors: true, strict: true, strictRequired: false, allowUnionTypes: true });
addFormats(ajv);
// OpenAPI's own annotation keywords inside schemas.
ajv.addKeyword('example');
// The components, with their references to each other pointed at the same registered document.
ajv.addSchema(
  { $id: 'openapi', $defs: JSON.parse(JSON.stringify(doc.components.schemas).replace(/"#\/components\/schemas\//g, '"#/$defs/')) },
  'openapi',
);

const compiled = new Map<string, ValidateFunction>();

/** The document's schemas refer to `#/components/schemas/X`; Ajv reads them from the registered components. */
function compile(schema: Schema): ValidateFunction {
  const text = JSON.stringify(schema);
  let fn = compiled.get(text);
  if (!fn) {
    fn = ajv.compile(JSON.parse(text.replace(/"#\/components\/schemas\//g, '"openapi#/$defs/')) as Schema);
    compiled.set(text, fn);
  }
  return fn;
}

/** Errors of a value against a schema of the document ([] when it matches). */
export function validate(schema: Schema, value: unknown): string[] {
  const fn = compile(schema);
  if (fn(value)) return [];
  return (fn.errors ?? []).map((e) => `${e.instancePath || '$'} ${e.message ?? ''} ${JSON.stringify(e.params)}`);
}

/** Asserts that a real response is documented (path, method, status, media type) and matches its schema. */
export function checkResponse(
  method: string,
  template: string,
  res: { status: number; headers: Record<string, string>; body: unknown },
): void {
  const op = doc.paths[template]?.[method];
  assert.ok(op, `OpenAPI documents ${method.toUpperCase()} ${template}`);
  const response = op.responses[String(res.status)];
  assert.ok(response, `OpenAPI documents status ${res.status} of ${method.toUpperCase()} ${template}`);
  if (!response.content) {
    assert.equal(res.status, 204);
    return;
  }
  const type = String(res.headers['content-type'] ?? '')
    .split(';')[0]!
    .trim();
  const media = response.content[type];
  assert.ok(media, `OpenAPI documents ${type} for ${res.status} of ${method.toUpperCase()} ${template}`);
  if (type === 'text/csv') return;
  const errors = validate(media.schema, res.body);
  assert.deepEqual(errors, [], `${method.toUpperCase()} ${template} ${res.status} matches the OpenAPI schema`);
}
