import { clientInfo } from '../authenticate.ts';
import { authPaths } from '../paths.ts';
import { Body, Text } from '../schemas.ts';
import type { App, RouteContext } from '../types.ts';

/** POST /auth/refresh/: a refresh token → a new access token (and a new refresh token when rotating). */
export function refreshRoute(app: App, { auth, config }: RouteContext): void {
  for (const url of authPaths(config, 'refresh', '{base}/token/refresh/', '/api/token/refresh/')) {
    app.post(url, {
      schema: { body: Body({ refresh: Text() }), tags: ['tokens'], summary: 'Exchange a refresh token' },
      handler: async (request) => auth.refresh(request.body.refresh, clientInfo(request)),
    });
  }
}
