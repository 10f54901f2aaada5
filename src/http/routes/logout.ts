import { Type } from '@sinclair/typebox';
import type { Principal } from '../../auth.ts';
import { ValidationError } from '../../errors.ts';
import { bearerToken, clientInfo, requirePrincipal } from '../authenticate.ts';
import { ACCESS_COOKIE, clearTokenCookies, cookieToken, REFRESH_COOKIE } from '../cookies.ts';
import { FIELD_MESSAGES } from '../errors.ts';
import { authPaths } from '../paths.ts';
import { Body } from '../schemas.ts';
import type { App, RouteContext } from '../types.ts';

const LogoutBody = Type.Optional(Body({ refresh: Type.Optional(Type.String()), refresh_token: Type.Optional(Type.String()) }));

/**
 * POST /auth/logout/ (alias /auth/token/blacklist/): ends the session of the
 * given refresh token (body, else the refresh cookie), or else of the caller's
 * access token (Bearer, else the access cookie). Clears the three cookies.
 */
export function logoutRoute(app: App, context: RouteContext): void {
  const { auth, config } = context;
  for (const url of authPaths(config, 'logout', '{base}/token/blacklist/')) {
    app.post(url, {
      schema: { body: LogoutBody, tags: ['sessions'], summary: 'End one session' },
      handler: async (request, reply) => {
        const refreshToken = request.body?.refresh || request.body?.refresh_token || cookieToken(request, context, REFRESH_COOKIE);
        let by: { refreshToken: string } | { principal: Principal };
        if (refreshToken) by = { refreshToken };
        else if (bearerToken(request) !== undefined || (config.authCookies && request.cookies?.[ACCESS_COOKIE])) by = { principal: requirePrincipal(auth, request) };
        else throw new ValidationError({ refresh: [FIELD_MESSAGES.required] });
        await auth.logout(by, clientInfo(request));
        clearTokenCookies(reply, context);
        return {};
      },
    });
  }
}
