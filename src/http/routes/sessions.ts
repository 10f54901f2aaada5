import { Type } from '@sinclair/typebox';
import { authenticate, clientInfo, principal } from '../authenticate.ts';
import { authPaths } from '../paths.ts';
import type { App, RouteContext } from '../types.ts';

/** GET /auth/sessions/ lists the caller's active sessions; DELETE /auth/sessions/{id}/ ends one. */
export function sessionsRoutes(app: App, { auth, config }: RouteContext): void {
  const [base] = authPaths(config, 'sessions') as [string];
  app.get(base, {
    schema: { tags: ['sessions'], summary: "The caller's active sessions" },
    onRequest: authenticate(auth),
    handler: async (request) => auth.sessions(principal(request)),
  });
  app.delete(`${base}/:id`, {
    schema: { params: Type.Object({ id: Type.String({ maxLength: 64 }) }), tags: ['sessions'], summary: 'End one of the caller’s sessions' },
    onRequest: authenticate(auth),
    handler: async (request, reply) => {
      await auth.endSession(principal(request), request.params.id, clientInfo(request));
      return reply.code(204).send();
    },
  });
}
