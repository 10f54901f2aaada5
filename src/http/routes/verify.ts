import { authPaths } from '../paths.ts';
import { Body, Text } from '../schemas.ts';
import type { App, RouteContext } from '../types.ts';

/** POST /auth/verify/: `{}` when the token is valid and not revoked. */
export function verifyRoute(app: App, { auth, config }: RouteContext): void {
  for (const url of authPaths(config, 'verify', '{base}/token/verify/', '/api/token/verify/')) {
    app.post(url, {
      schema: { body: Body({ token: Text() }), tags: ['tokens'], summary: 'Check a token' },
      handler: async (request) => {
        await auth.verify(request.body.token);
        return {};
      },
    });
  }
}
