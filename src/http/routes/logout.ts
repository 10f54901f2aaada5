import { Type } from '@sinclair/typebox';
import { ValidationError } from '../../errors.ts';
import { authenticateCredential, bearerToken, clientInfo } from '../authenticate.ts';
import { FIELD_MESSAGES } from '../errors.ts';
import { authPaths } from '../paths.ts';
import { Body } from '../schemas.ts';
import type { App, RouteContext } from '../types.ts';

const LogoutBody = Type.Optional(Body({ refresh: Type.Optional(Type.String()), refresh_token: Type.Optional(Type.String()) }));

/**
 * POST /auth/logout/ (alias /auth/token/blacklist/): ends the session of the
 * given refresh token, or else of the Bearer access token.
 */
export function logoutRoute(app: App, { auth, config }: RouteContext): void {
  for (const url of authPaths(config, 'logout', '{base}/token/blacklist/')) {
    app.post(url, {
      schema: { body: LogoutBody, tags: ['sessions'], summary: 'End one session' },
      handler: async (request) => {
        const refreshToken = request.body?.refresh || request.body?.refresh_token;
        if (refreshToken) {
          await auth.logout({ refreshToken }, clientInfo(request));
          return {};
        }
        const access = bearerToken(request);
        if (access === undefined) throw new ValidationError({ refresh: [FIELD_MESSAGES.required] });
        await auth.logout({ principal: authenticateCredential(auth, access) }, clientInfo(request));
        return {};
      },
    });
  }
}
