/**
 * Request bodies read as DRF reads them, once for every route: JSON, form and
 * multipart parsers (DRF's defaults), an empty body as an empty form, and
 * string fields as DRF's CharField takes them — driven by each route's body
 * schema, so no route does it by hand.
 */
import type { IncomingMessage } from 'node:http';
import { Busboy, type BusboyInstance } from '@fastify/busboy';
import type { FastifyRequest } from 'fastify';
import type { Config } from '../config.ts';
import { ValidationError } from '../errors.ts';
import { FIELD_MESSAGES, MultipartParseError, PayloadTooLargeError } from './errors.ts';
import type { App } from './types.ts';

/** DRF's answer to a JSON body of `null`. */
export const NO_DATA = 'No data provided';

/**
 * Registers the body parsers and the hook that shapes bodies before the schema
 * checks them. Call before the routes are added.
 */
export async function readBodies(app: App, config: Pick<Config, 'bodyLimit'>): Promise<void> {
  // JSON and form (formbody, registered by the plugin) and multipart, as DRF's default parsers.
  // Multipart is read by a content-type parser, not @fastify/multipart: that plugin adds two async
  // hooks and a 'close' listener to every request of the scope, JSON ones included, to clean up
  // files saved to disk, which Latchkey never saves.
  app.addContentTypeParser('multipart/form-data', (request, payload, done) => {
    readParts(request.headers, payload, config.bodyLimit).then((body) => done(null, body), (error: Error) => done(error, undefined));
  });
  // An empty JSON body is an empty object (fields "required"), as DRF reads it.
  app.removeContentTypeParser('text/plain');
  const parseJson = app.getDefaultJsonParser('error', 'remove');
  app.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit: config.bodyLimit }, (request, body, done) => {
    if (typeof body !== 'string' || body.trim() === '') return done(null, {});
    parseJson(request, body, done);
  });
  app.addHook('preValidation', (request, _reply, done) => {
    try {
      shapeBody(request);
    } catch (error) {
      done(error as Error);
      return;
    }
    done();
  });
}

/**
 * No body reads as an empty form; a JSON `null` is DRF's "No data provided";
 * a form field given twice is its last value (Django's QueryDict, as multipart);
 * string fields of the route's schema are trimmed, and a number there becomes
 * its decimal string, as DRF's CharField does.
 */
function shapeBody(request: FastifyRequest): void {
  if (request.body === undefined) {
    request.body = {};
    return;
  }
  if (request.body === null) throw new ValidationError({ non_field_errors: [NO_DATA] });
  if (typeof request.body !== 'object' || Array.isArray(request.body)) return; // the schema names its type
  const body = request.body as Record<string, unknown>;
  if (String(request.headers['content-type']).toLowerCase().startsWith('application/x-www-form-urlencoded')) {
    for (const [name, value] of Object.entries(body)) if (Array.isArray(value)) body[name] = value.at(-1);
  }
  for (const field of stringFields(request.routeOptions.schema?.body)) {
    const value = body[field];
    if (typeof value === 'string') body[field] = value.trim();
    else if (typeof value === 'number' && Number.isFinite(value)) body[field] = String(value);
  }
}

/**
 * A multipart body's fields (the last value of a repeated one, as Django's
 * QueryDict gives it), read with busboy under the body limit. A file part is
 * drained unread and refused: every field here is text.
 */
function readParts(headers: FastifyRequest['headers'], payload: IncomingMessage, bodyLimit: number): Promise<Record<string, unknown>> {
  // After authentication (onRequest), as Fastify checks other bodies' length.
  if (Number(headers['content-length']) > bodyLimit) return Promise.reject(new PayloadTooLargeError());
  return new Promise((resolve, reject) => {
    let parser: BusboyInstance;
    try {
      parser = new Busboy({
        headers: headers as { 'content-type': string },
        limits: { fieldSize: bodyLimit, fileSize: bodyLimit, fields: 100, files: 10, parts: 110, headerPairs: 100 },
      });
    } catch (error) {
      reject(new MultipartParseError(error instanceof Error ? error.message : String(error)));
      return;
    }
    const body: Record<string, unknown> = {};
    const files: Record<string, string[]> = {};
    let bytes = 0;
    let failed = false;
    const fail = (error: Error) => {
      if (failed) return;
      failed = true;
      payload.unpipe(parser);
      // The rest of the body is read and dropped, so the connection can carry the answer.
      payload.resume();
      reject(error);
    };
    parser.on('field', (name: string, value: string, _nameTruncated: boolean, valueTruncated: boolean) => {
      if (valueTruncated) return fail(new PayloadTooLargeError());
      body[name] = value;
      // A chunked body has no length to check up front: its fields are counted instead.
      bytes += Buffer.byteLength(value);
      if (bytes > bodyLimit) fail(new PayloadTooLargeError());
    });
    parser.on('file', (name: string, stream: NodeJS.ReadableStream) => {
      stream.resume();
      files[name] = [FIELD_MESSAGES.string];
    });
    for (const limit of ['partsLimit', 'filesLimit', 'fieldsLimit']) parser.on(limit, () => fail(new PayloadTooLargeError()));
    parser.on('error', (error: Error) => fail(new MultipartParseError(error.message)));
    parser.on('finish', () => {
      if (failed) return;
      if (Object.keys(files).length > 0) reject(new ValidationError(files));
      else resolve(body);
    });
    payload.on('error', (error) => fail(new MultipartParseError(error.message)));
    payload.pipe(parser);
  });
}

const STRING_FIELDS = new WeakMap<object, readonly string[]>();

/** The top-level properties a body schema types as strings, found once per schema. */
function stringFields(schema: unknown): readonly string[] {
  if (typeof schema !== 'object' || schema === null) return [];
  let fields = STRING_FIELDS.get(schema);
  if (fields === undefined) {
    const properties = (schema as { properties?: Record<string, { type?: unknown }> }).properties ?? {};
    fields = Object.entries(properties)
      .filter(([, property]) => [property.type].flat().includes('string'))
      .map(([name]) => name);
    STRING_FIELDS.set(schema, fields);
  }
  return fields;
}
