import { authenticate, clientInfo, principal } from '../authenticate.ts';
import { authPaths } from '../paths.ts';
import type { App, RouteContext } from '../types.ts';

/** POST /auth/logout-all/: ends every session of the caller, on every device. */
export function logoutAllRoute(app: App, { auth, config }: RouteContext): void {
  for (const url of authPaths(config, 'logout-all')) {
    app.post(url, {
      schema: { tags: ['sessions'], summary: 'End every session of the caller' },
      onRequest: authenticate(auth),
      handler: async (request) => {
        const ended = await auth.logoutAll(principal(request), clientInfo(request));
        return { sessions_ended: ended };
      },
    });
  }
}
