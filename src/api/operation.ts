import type { Request, RequestHandler, Response, Router } from 'express';
import { type z } from 'zod';
import { requireAccess, type Access } from './auth';
import { ApiError } from './problem';
import { parseBody, parseQuery } from './validate';

/**
 * The admin API's route table. Every route is one operation: its method and path, who may call it, the zod schemas of
 * its path parameters, query and JSON body, and its responses. The same operation registers the Express route (which
 * validates each request with those schemas before the handler runs) and produces the OpenAPI document
 * (`openapi.ts`, through zod's JSON Schema output), so what the document says is what the server enforces.
 */

export type Method = 'get' | 'put' | 'post' | 'patch' | 'delete';

export interface ResponseSpec {
  description: string;
  /** An application/json body. */
  json?: z.ZodType;
  /** A text/csv body (streamed). */
  csv?: boolean;
  /** An RFC 9457 problem (application/problem+json). */
  problem?: boolean;
}

export interface OperationSpec<P extends z.ZodType = z.ZodType, Q extends z.ZodType = z.ZodType, B extends z.ZodType = z.ZodType> {
  method: Method;
  /** The OpenAPI path template under /api/v1, e.g. `/connections/{id}`. */
  path: string;
  summary: string;
  description?: string;
  /** Who may call it (see auth.ts); `public`: no token. */
  access: Access | 'public';
  /** Path parameters: a z.object keyed by the template's `{names}`. */
  params?: P;
  /** Query parameters: a z.object (unknown parameters are ignored). */
  query?: Q;
  /** A JSON request body (required). */
  body?: B;
  /** A request body the handler reads itself (not JSON): media type → JSON Schema of the document. */
  rawBody?: Record<string, Record<string, unknown>>;
  /** The answers besides the ones every operation has (see `commonResponses` in openapi.ts). */
  responses: Record<number, ResponseSpec>;
}

type Out<T> = T extends z.ZodType ? z.output<T> : undefined;

export interface Input<P, Q, B> {
  params: Out<P>;
  query: Out<Q>;
  body: Out<B>;
}

export type Handler<P, Q, B> = (req: Request, res: Response, input: Input<P, Q, B>) => Promise<void> | void;

/** Declares an operation (the types of its schemas flow into its handler). */
export function operation<P extends z.ZodType = z.ZodType, Q extends z.ZodType = z.ZodType, B extends z.ZodType = z.ZodType>(
  spec: OperationSpec<P, Q, B>,
): OperationSpec<P, Q, B> {
  return spec;
}

/** `/connections/{id}/sync` → `/connections/:id/sync` */
export function expressPath(template: string): string {
  return template.replace(/\{([A-Za-z_][A-Za-z0-9_]*)\}/g, ':$1');
}

/** A path parameter the schema refuses names nothing here: 404, as for a path the API has not. */
function parseParams<T extends z.ZodType>(schema: T, params: unknown, path: string): z.output<T> {
  const res = schema.safeParse(params);
  if (!res.success) throw new ApiError(404, 'not-found', `${path}: ${res.error.issues[0]?.message ?? 'no such resource'}`);
  return res.data;
}

/** The Express side of the route table: registers operations on the API router. */
export class ApiRoutes {
  /** Every operation registered, in order (the OpenAPI document is built from the same operations). */
  readonly registered: OperationSpec[] = [];

  constructor(
    readonly router: Router,
    private readonly json: RequestHandler,
  ) {}

  add<P extends z.ZodType, Q extends z.ZodType, B extends z.ZodType>(spec: OperationSpec<P, Q, B>, handler: Handler<P, Q, B>): void {
    const chain: RequestHandler[] = [];
    if (spec.access !== 'public') chain.push(requireAccess(spec.access));
    if (spec.body) chain.push(this.json);
    chain.push(async (req, res) => {
      const input = {
        params: spec.params ? parseParams(spec.params, req.params, spec.path) : undefined,
        query: spec.query ? parseQuery(spec.query, req.query) : undefined,
        body: spec.body ? parseBody(spec.body, req.body) : undefined,
      } as Input<P, Q, B>;
      await handler(req, res, input);
    });
    this.router[spec.method](expressPath(spec.path), ...chain);
    this.registered.push(spec);
  }
}
