import type { ErrorCode, MfaMethod, MfaRequiredResponse } from '../wire.ts';

/**
 * A failed call: the HTTP status, the server's stable `code` (switch on it; the
 * `detail` is for people and may be translated), and the body as sent — for a
 * 400, DRF's `{"field": ["message"]}`.
 */
export class LatchkeyError extends Error {
  readonly status: number;
  /** The server's code; `invalid` for field errors, `error` when the body had none. */
  readonly code: ErrorCode | 'invalid';
  readonly detail: string;
  readonly body: unknown;
  constructor(status: number, code: ErrorCode | 'invalid', detail: string, body: unknown = null) {
    super(detail);
    this.name = 'LatchkeyError';
    this.status = status;
    this.code = code;
    this.detail = detail;
    this.body = body;
  }
}

/** The LatchkeyError a failed response describes. */
export async function readError(response: Response): Promise<LatchkeyError> {
  let body: unknown = null;
  try {
    body = await response.json();
  } catch {
    // not JSON: the status says enough
  }
  if (body && typeof body === 'object' && 'code' in body && 'detail' in body) {
    const { code, detail } = body as { code: ErrorCode; detail: string };
    if (code === 'mfa_required') return new MfaRequiredError(body as MfaRequiredResponse);
    return new LatchkeyError(response.status, code, detail, body);
  }
  if (response.status === 400 && body && typeof body === 'object') {
    const first = Object.values(body as Record<string, unknown>).flat()[0];
    return new LatchkeyError(400, 'invalid', typeof first === 'string' ? first : 'Invalid input.', body);
  }
  return new LatchkeyError(response.status, 'error', response.statusText || `HTTP ${response.status}`, body);
}

/**
 * `401 mfa_required` from `login`: the password was right and a second step is
 * due (`client.verifyMfa`). It is a LatchkeyError, so code that knows nothing of
 * MFA shows its `detail` as for any failed login.
 */
export class MfaRequiredError extends LatchkeyError {
  /** Opaque, single use; give it to `verifyMfa` before `expiresAt`. */
  readonly mfaToken: string;
  readonly expiresAt: string;
  readonly methods: MfaMethod[];
  constructor(body: MfaRequiredResponse) {
    super(401, 'mfa_required', body.detail, body);
    this.name = 'MfaRequiredError';
    this.mfaToken = body.mfa_token;
    this.expiresAt = body.mfa_token_expires_at;
    this.methods = body.mfa_methods;
  }
}
