/**
 * Where absolute URLs in responses point. The `Host` header is the client's to
 * choose, so a link built from it could send the next request anywhere (cache
 * poisoning, phishing through a shared link): absolute URLs come from
 * PUBLIC_URL, or, without it, from the request only when it names this machine
 * (localhost, 127.0.0.1, [::1]); otherwise they are left relative.
 */
import type { FastifyRequest } from 'fastify';

const LOCAL_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

/**
 * The base to put before an absolute path: PUBLIC_URL, a local request's own origin, or '' (relative).
 * @example `${publicOrigin(request)}/admin/users/?page=2`
 */
export function publicOrigin(request: FastifyRequest): string {
  const configured = request.server.latchkeyConfig?.publicUrl;
  if (configured !== undefined) return configured;
  return LOCAL_HOSTS.has(request.hostname) ? `${request.protocol}://${request.host}` : '';
}
