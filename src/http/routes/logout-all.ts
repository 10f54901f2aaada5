import { authenticate, clientInfo, principal } from '../authenticate.ts';
import { clearTokenCookies } from '../cookies.ts';
import { authPaths } from '../paths.ts';
import type { App, RouteContext } from '../types.ts';

/** POST /auth/logout-all/: ends every session of the caller, on every device. */
export function logoutAllRoute(app: App, context: RouteContext): void {
  const { auth, config } = context;
  for (const url of authPaths(config, 'logout-all')) {
    app.post(url, {
      schema: { tags: ['sessions'], summary: 'End every session of the caller' },
      onRequest: authenticate(auth, { allowEnrollment: true }),
      handler: async (request, reply) => {
        const ended = await auth.logoutAll(principal(request), clientInfo(request));
        clearTokenCookies(reply, context);
        return { sessions_ended: ended };
      },
    });
  }
}
