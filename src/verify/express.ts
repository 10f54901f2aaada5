import { VerificationError, type Verifier, type VerifiedPrincipal } from './verifier.ts';

/** The parts of an Express (or Connect) request and response the middleware uses. */
export interface MiddlewareRequest {
  headers: Record<string, string | string[] | undefined>;
  latchkey?: VerifiedPrincipal;
}

export interface MiddlewareResponse {
  statusCode: number;
  setHeader(name: string, value: string): unknown;
  end(body: string): unknown;
}

/**
 * An Express-style middleware: `req.latchkey` is the principal, or the request
 * is answered as Latchkey would (401/403/503 with a DRF body).
 * @example app.use(latchkeyMiddleware(createVerifier({ jwksUrl })));
 */
export function latchkeyMiddleware(verifier: Verifier) {
  return (request: MiddlewareRequest, response: MiddlewareResponse, next: (error?: unknown) => void): void => {
    const header = request.headers.authorization;
    verifier.authenticate(Array.isArray(header) ? header.join(', ') : header).then(
      (principal) => {
        request.latchkey = principal;
        next();
      },
      (error: unknown) => {
        if (!(error instanceof VerificationError)) return next(error);
        response.statusCode = error.status;
        for (const [name, value] of Object.entries(error.headers)) response.setHeader(name, value);
        response.setHeader('content-type', 'application/json; charset=utf-8');
        response.end(JSON.stringify(error.body));
      },
    );
  };
}
