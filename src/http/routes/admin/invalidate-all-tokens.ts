import { requireAdmin } from '../../admin.ts';
import { clientInfo, principal } from '../../authenticate.ts';
import type { App, RouteContext } from '../../types.ts';

/**
 * POST /admin/invalidate-all-tokens/: the "log everyone out" switch. Every
 * session ends, the caller's too, and every instance refuses their access
 * tokens from the next request on.
 */
export function invalidateAllTokensRoute(app: App, { auth }: RouteContext): void {
  app.post('/admin/invalidate-all-tokens', {
    schema: { tags: ['admin'], summary: 'Log every user out now' },
    onRequest: requireAdmin(auth),
    handler: async (request) => {
      const { sessionsEnded } = await auth.invalidateAllTokens({ principal: principal(request), client: clientInfo(request) });
      return { sessions_ended: sessionsEnded };
    },
  });
}
