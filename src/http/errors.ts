/**
 * The one table from error codes to DRF-shaped wire bodies, and the Fastify
 * error handler that uses it. A new domain code without a row fails to compile.
 */
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { AuthError, MfaError, OverloadedError, StoreUnavailableError, ThrottledError, TokenError, ValidationError, type AuthErrorCode, type TokenFailure } from '../errors.ts';
import type { ErrorCode, HttpErrorCode } from '../wire.ts';
import { negotiateLanguage, translate, translateFields, type Language } from '../i18n/index.ts';

export interface Wire {
  status: number;
  detail: string;
}

/** Codes raised by the domain (src/errors.ts). */
export const DOMAIN_ERRORS = {
  no_active_account: { status: 401, detail: 'No active account found with the given credentials' },
  token_not_valid: { status: 401, detail: 'Token is invalid or expired' },
  not_authenticated: { status: 401, detail: 'Authentication credentials were not provided.' },
  bad_authorization_header: { status: 401, detail: 'Authorization header must contain two space-delimited values' },
  user_not_found: { status: 401, detail: 'User not found' },
  user_inactive: { status: 401, detail: 'User is inactive' },
  permission_denied: { status: 403, detail: 'You do not have permission to perform this action.' },
  password_reset_required: { status: 403, detail: 'Password change required.' },
  account_inactive: { status: 403, detail: 'The account this user belongs to is inactive.' },
  not_found: { status: 404, detail: 'Not found.' },
  service_unavailable: { status: 503, detail: 'Service temporarily unavailable, try again later.' },
  throttled: { status: 429, detail: 'Request was throttled.' },
  csrf_failed: { status: 403, detail: 'CSRF Failed: CSRF token missing or incorrect.' },
  mfa_required: { status: 401, detail: 'Multi-factor authentication required.' },
  mfa_token_invalid: { status: 401, detail: 'The MFA token is invalid or expired.' },
  mfa_code_invalid: { status: 400, detail: 'Invalid code.' },
  mfa_code_reused: { status: 400, detail: 'This code has already been used.' },
  mfa_locked: { status: 429, detail: 'Too many failed codes: the second factor is locked for a while.' },
  mfa_already_enabled: { status: 400, detail: 'A second factor is already enabled.' },
  mfa_not_pending: { status: 400, detail: 'No enrolment is pending, or it has expired.' },
  insufficient_aal: { status: 403, detail: 'This action requires a session signed in with a second factor.' },
  cannot_reset_own_mfa: { status: 403, detail: 'You cannot reset your own second factor here: remove it from your account.' },
  webauthn_failed: { status: 400, detail: 'The passkey could not be verified.' },
  email_not_verified: { status: 403, detail: 'Email address is not verified.' },
  stale_token: { status: 403, detail: 'Stale token for given user.' },
  mfa_enrollment_required: { status: 403, detail: 'A second factor must be set up first.' },
} as const satisfies Record<AuthErrorCode, Wire>;

/** SimpleJWT's words for why a token was refused: the `detail` (in a body) or the `message` (from a header). */
export const TOKEN_REASONS = {
  invalid: 'Token is invalid or expired',
  wrong_type: 'Token has wrong type',
  no_id: 'Token has no id',
  no_exp: "Token has no 'exp' claim",
  blacklisted: 'Token is blacklisted',
  no_user_id: 'Token contained no recognizable user identification',
} as const satisfies Record<TokenFailure, string>;

/** SimpleJWT's JWTAuthentication: the header's token failed as every class it tried (only AccessToken here). */
export const NO_TOKEN_TYPE = 'Given token not valid for any token type';

/**
 * A token from the Authorization header or the access cookie that was refused:
 * answered in SimpleJWT's authenticated-route shape (`messages`), where a token
 * in a body gets the plain `{detail, code}`.
 */
export class CredentialTokenError extends Error {
  readonly reason: TokenFailure;
  constructor(error: TokenError) {
    super(error.message);
    this.name = 'CredentialTokenError';
    this.reason = error.reason;
  }
}

/** A multipart body over BODY_LIMIT, found while reading it: Fastify's own 413 for other bodies. */
export class PayloadTooLargeError extends Error {
  constructor() {
    super('multipart body too large');
    this.name = 'PayloadTooLargeError';
  }
}

/** A multipart body that cannot be read: DRF's 400 parse error. */
export class MultipartParseError extends Error {
  constructor(problem: string) {
    super(`Multipart form parse error - ${problem}`);
    this.name = 'MultipartParseError';
  }
}

/** Codes that only the HTTP layer raises (request shape, not domain). */
export const HTTP_ERRORS = {
  parse_error: { status: 400, detail: 'JSON parse error' },
  bad_request: { status: 400, detail: 'Bad request.' },
  unsupported_media_type: { status: 415, detail: 'Unsupported media type in request.' },
  payload_too_large: { status: 413, detail: 'Request body is too large.' },
  method_not_allowed: { status: 405, detail: 'Method not allowed.' },
  error: { status: 500, detail: 'A server error occurred.' },
  request_timeout: { status: 408, detail: 'The request was not received in time.' },
  request_header_fields_too_large: { status: 431, detail: 'Request header fields are too large.' },
} as const satisfies Record<HttpErrorCode, Wire>;

export type WireCode = ErrorCode;

export const WWW_AUTHENTICATE = 'Bearer realm="api"';

/** DRF's field messages, by the JSON Schema keyword that failed. */
export const FIELD_MESSAGES = {
  required: 'This field is required.',
  blank: 'This field may not be blank.',
  null: 'This field may not be null.',
  string: 'Not a valid string.',
} as const;

/**
 * Sends `{"detail", "code"}` with the status of `code`, and the 401 challenge header;
 * the detail in the request's language (the English `detail` passed in is translated).
 */
export function sendError(reply: FastifyReply, code: WireCode, detail?: string, extra: Readonly<Record<string, unknown>> = {}): FastifyReply {
  const wire: Wire = code in DOMAIN_ERRORS ? DOMAIN_ERRORS[code as AuthErrorCode] : HTTP_ERRORS[code as keyof typeof HTTP_ERRORS];
  if (wire.status === 401) reply.header('www-authenticate', WWW_AUTHENTICATE);
  return reply.code(wire.status).send({ detail: translate(detail ?? wire.detail, replyLanguage(reply)), code, ...extra });
}

/** A refused token's 401: `{detail: REASON, code}` from a body; SimpleJWT's `messages` shape from a header or cookie. */
export function sendTokenError(reply: FastifyReply, reason: TokenFailure, from: 'body' | 'credentials'): FastifyReply {
  const language = replyLanguage(reply);
  reply.header('www-authenticate', WWW_AUTHENTICATE).code(401);
  const message = translate(TOKEN_REASONS[reason], language);
  if (from === 'body' || reason === 'no_user_id') return reply.send({ detail: message, code: 'token_not_valid' });
  return reply.send({
    detail: translate(NO_TOKEN_TYPE, language),
    code: 'token_not_valid',
    messages: [{ token_class: 'AccessToken', token_type: 'access', message }],
  });
}

/** Sends DRF's 400 `{"field": ["message"]}`, each message in the request's language. */
export function sendFieldErrors(reply: FastifyReply, fields: Readonly<Record<string, readonly string[]>>): FastifyReply {
  return reply.code(400).send(translateFields(fields, replyLanguage(reply)));
}

/** The language the request asked for; error bodies depend on it, so caches must vary on it. */
function replyLanguage(reply: FastifyReply): Language {
  const language = negotiateLanguage(reply.request.headers['accept-language']);
  const vary = String(reply.getHeader('vary') ?? '')
    .split(',')
    .map((field) => field.trim())
    .filter(Boolean);
  if (!vary.some((field) => field === '*' || field.toLowerCase() === 'accept-language')) reply.header('vary', [...vary, 'Accept-Language'].join(', '));
  if (language !== 'en') reply.header('content-language', language);
  return language;
}

interface AjvError {
  keyword: string;
  instancePath: string;
  params: Record<string, unknown>;
  data?: unknown;
}

/** Turns schema failures into DRF's `{"field": ["message"]}`, one list per field. */
export function fieldErrors(errors: readonly AjvError[]): Record<string, string[]> {
  const fields: Record<string, string[]> = {};
  const add = (field: string, message: string) => {
    const list = (fields[field] ??= []);
    if (!list.includes(message)) list.push(message);
  };
  for (const error of errors) {
    const field = error.instancePath.split('/')[1];
    if (error.keyword === 'required') add(String(error.params.missingProperty), FIELD_MESSAGES.required);
    else if (field === undefined) add('non_field_errors', `Invalid data. Expected a dictionary, but got ${typeName(error.data)}.`);
    else if (error.keyword === 'type') add(field, error.data === null ? FIELD_MESSAGES.null : typeMessage(error.params.type));
    else if (error.keyword === 'minLength' || error.keyword === 'pattern') add(field, FIELD_MESSAGES.blank);
    else if (error.keyword === 'maxLength') add(field, `Ensure this field has no more than ${String(error.params.limit)} characters.`);
    else add(field, 'Invalid value.');
  }
  return fields;
}

/** DRF's message for a value of the wrong JSON type; `expected` is the schema's type (a list for nullable fields). */
function typeMessage(expected: unknown): string {
  const first = [expected].flat()[0];
  if (first === 'integer') return 'A valid integer is required.';
  if (first === 'boolean') return 'Must be a valid boolean.';
  return FIELD_MESSAGES.string;
}

function typeName(value: unknown): string {
  if (Array.isArray(value)) return 'list';
  if (value === null) return 'NoneType';
  if (typeof value === 'number') return Number.isInteger(value) ? 'int' : 'float';
  return { string: 'str', boolean: 'bool' }[typeof value as string] ?? typeof value;
}

/** Fastify's own failures (body parsing, content type, size) in DRF's words. */
function fromFastify(error: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply | undefined {
  switch (error.code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return sendError(reply, 'unsupported_media_type', `Unsupported media type "${request.headers['content-type'] ?? ''}" in request.`);
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return sendError(reply, 'payload_too_large');
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return sendError(reply, 'parse_error', `JSON parse error - ${error.message}`);
  }
  if (error.validation) return sendFieldErrors(reply, fieldErrors(error.validation as AjvError[]));
  if (typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 500) {
    return sendError(reply, 'bad_request', error.message);
  }
  return undefined;
}

/** The app's error handler: domain errors by the table, the rest by Fastify's code, else 500. */
export function handleError(error: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  if (error instanceof ValidationError) return sendFieldErrors(reply, error.fields);
  if (error instanceof CredentialTokenError) return sendTokenError(reply, error.reason, 'credentials');
  if (error instanceof TokenError) return sendTokenError(reply, error.reason, 'body');
  if (error instanceof PayloadTooLargeError) return sendError(reply, 'payload_too_large');
  if (error instanceof MultipartParseError) return sendError(reply, 'parse_error', error.message);
  if (error instanceof ThrottledError) {
    // DRF's Throttled: the wait in the header and, in words, in the detail.
    reply.header('retry-after', String(error.retryAfter));
    return sendError(reply, 'throttled', `Request was throttled. Expected available in ${error.retryAfter} ${error.retryAfter === 1 ? 'second' : 'seconds'}.`);
  }
  if (error instanceof MfaError) {
    if (error.retryAfter !== undefined) reply.header('retry-after', String(error.retryAfter));
    // mfa_required carries an mfa_token: never stored by a cache.
    if (error.code === 'mfa_required') reply.header('cache-control', 'no-store');
    return sendError(reply, error.code, undefined, error.extra);
  }
  if (error instanceof AuthError) {
    if (error instanceof StoreUnavailableError) request.log.warn({ err: error.cause ?? error }, 'database unavailable');
    // Every 503 says when to come back (SPEC §3): the shed request's own estimate, else a second.
    if (error.code === 'service_unavailable') reply.header('retry-after', String(error instanceof OverloadedError ? error.retryAfter : 1));
    // A CSRF failure says which check failed, in DRF's words (`CSRF Failed: CSRF token missing.`).
    if (error.code === 'csrf_failed' && error.message.startsWith('CSRF Failed: ')) return sendError(reply, error.code, error.message);
    return sendError(reply, error.code);
  }
  const handled = fromFastify(error, request, reply);
  if (handled) return handled;
  request.log.error({ err: error }, 'unhandled error');
  return sendError(reply, 'error');
}

/**
 * Fastify's `frameworkErrors`: failures of its router, before any route or
 * plugin runs (a malformed percent-encoding, a path parameter over
 * `maxParamLength`), in DRF's shape. An over-long id names nothing: 404.
 */
export function handleFrameworkError(error: FastifyError, _request: FastifyRequest, reply: FastifyReply): FastifyReply {
  if (error.code === 'FST_ERR_MAX_PARAM_LENGTH') return sendError(reply, 'not_found');
  return sendError(reply, 'bad_request');
}

/** The Node HTTP parser's failures by its error code; anything else it refuses is a 400. */
const CLIENT_ERRORS: Readonly<Record<string, keyof typeof HTTP_ERRORS>> = {
  HPE_HEADER_OVERFLOW: 'request_header_fields_too_large',
  ERR_HTTP_REQUEST_TIMEOUT: 'request_timeout',
  HPE_HEADERS_TIMEOUT: 'request_timeout',
};

/**
 * Fastify's `clientErrorHandler`: the request never got past Node's HTTP
 * parser (headers too large, malformed request line, a timeout), so there is
 * no request to negotiate a language with; the answer is DRF's English body
 * with a `code`, written straight to the socket, which is then closed.
 */
export function handleClientError(error: Error & { code?: string }, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const code = CLIENT_ERRORS[error.code ?? ''] ?? 'bad_request';
  const { status, detail } = HTTP_ERRORS[code];
  const body = JSON.stringify({ detail, code });
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nContent-Type: application/json; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(error);
}
