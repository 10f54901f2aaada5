import { Type } from '@sinclair/typebox';
import { ValidationError } from '../../errors.ts';
import { clientInfo } from '../authenticate.ts';
import { bodyTokens, cookieToken, REFRESH_COOKIE, setTokenCookies } from '../cookies.ts';
import { FIELD_MESSAGES } from '../errors.ts';
import { authPaths } from '../paths.ts';
import { Body, Text } from '../schemas.ts';
import type { App, RouteContext } from '../types.ts';

/**
 * POST /auth/refresh/: a refresh token → a new access token (and a new refresh token when rotating).
 * In cookie mode the token comes from the body or, when the body has none, from the refresh cookie (CSRF-checked).
 */
export function refreshRoute(app: App, context: RouteContext): void {
  const { auth, config } = context;
  const body = Body({ refresh: config.authCookies ? Type.Optional(Text()) : Text() });
  for (const url of authPaths(config, 'refresh', '{base}/token/refresh/', '/api/token/refresh/')) {
    app.post(url, {
      schema: { body, tags: ['tokens'], summary: 'Exchange a refresh token' },
      handler: async (request, reply) => {
        const token = request.body.refresh ?? cookieToken(request, context, REFRESH_COOKIE);
        if (token === undefined) throw new ValidationError({ refresh: [FIELD_MESSAGES.required] });
        const result = await auth.refresh(token, clientInfo(request));
        setTokenCookies(request, reply, context, result);
        return bodyTokens(result, context);
      },
    });
  }
}
