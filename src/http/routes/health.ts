import { sendError } from '../errors.ts';
import type { App, RouteContext } from '../types.ts';

/** GET /healthz (the process answers) and GET /readyz (the database answers too). */
export function healthRoutes(app: App, { auth }: RouteContext): void {
  app.get('/healthz', { schema: { tags: ['health'] } }, async () => ({ status: 'ok' }));
  app.get('/readyz', { schema: { tags: ['health'] } }, async (request, reply) => {
    try {
      await auth.ping();
      return { status: 'ready' };
    } catch (error) {
      request.log.warn({ err: error }, 'not ready');
      return sendError(reply, 'service_unavailable');
    }
  });
}
