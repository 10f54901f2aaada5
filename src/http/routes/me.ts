import { Type } from '@sinclair/typebox';
import { authenticate, principal } from '../authenticate.ts';
import { authPaths } from '../paths.ts';
import { Body } from '../schemas.ts';
import type { App, RouteContext } from '../types.ts';

const Name = Type.String({ maxLength: 150 });
const MePatch = Body({ first_name: Type.Optional(Name), last_name: Type.Optional(Name) });

/** GET /auth/me/ is the caller's profile; PATCH changes first_name and last_name. */
export function meRoutes(app: App, { auth, config }: RouteContext): void {
  for (const url of authPaths(config, 'me')) {
    app.get(url, {
      schema: { tags: ['profile'], summary: "The caller's profile" },
      onRequest: authenticate(auth, { allowRestricted: true, allowEnrollment: true }),
      handler: async (request) => auth.me(principal(request)),
    });
    app.patch(url, {
      schema: { body: Type.Optional(MePatch), tags: ['profile'], summary: "Change the caller's names" },
      onRequest: authenticate(auth, { allowRestricted: true, allowEnrollment: true }),
      handler: async (request) => {
        const { first_name, last_name } = request.body ?? {};
        const names = { ...(first_name !== undefined ? { first_name } : {}), ...(last_name !== undefined ? { last_name } : {}) };
        return auth.updateMe(principal(request), names);
      },
    });
  }
}
