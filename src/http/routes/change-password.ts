import { authenticate, clientInfo, principal } from '../authenticate.ts';
import { authPaths } from '../paths.ts';
import { Body, Text } from '../schemas.ts';
import type { App, RouteContext } from '../types.ts';

const ChangePasswordBody = Body({ old_password: Text(), new_password: Text() });

/**
 * POST /auth/change-password/: the caller's other sessions end, a forced reset
 * is lifted, and the current session gets a fresh, unrestricted pair.
 */
export function changePasswordRoute(app: App, { auth, config }: RouteContext): void {
  for (const url of authPaths(config, 'change-password')) {
    app.post(url, {
      schema: { body: ChangePasswordBody, tags: ['accounts'], summary: 'Change the caller’s password' },
      onRequest: [authenticate(auth, { allowRestricted: true }), async () => auth.admitPasswordCheck()],
      handler: async (request) => {
        const { old_password, new_password } = request.body;
        return auth.changePassword(principal(request), { old: old_password, new: new_password }, clientInfo(request));
      },
    });
  }
}
