import { negotiateLanguage, translate } from '../../i18n/index.ts';
import { clientInfo } from '../authenticate.ts';
import { authPaths } from '../paths.ts';
import { Body, Text } from '../schemas.ts';
import type { App, RouteContext } from '../types.ts';

const LinkBody = Body({ uid: Text(), token: Text() });
const EmailBody = Body({ email: Text() });
const KeyBody = Body({ key: Text() });
const tags = ['email verification'];

/**
 * Email verification (SPEC §11): djoser's activation (`uid`, `token` → 204;
 * already verified → 403 `stale_token`), resend (204 whatever the address), and
 * dj-rest-auth's `key` (`uid:token` → 200 `{"detail": "ok"}`, a bad key 404).
 */
export function verifyEmailRoutes(app: App, { auth, config }: RouteContext): void {
  for (const url of authPaths(config, 'verify-email', '{base}/users/activation/')) {
    app.post(url, {
      schema: { body: LinkBody, tags, summary: 'Confirm an email address from the mailed link' },
      handler: async (request, reply) => {
        await auth.verifyEmail({ uid: request.body.uid, token: request.body.token }, clientInfo(request));
        return reply.code(204).send();
      },
    });
  }
  for (const url of authPaths(config, 'verify-email/resend', '{base}/users/resend_activation/')) {
    app.post(url, {
      schema: { body: EmailBody, tags, summary: 'Mail a new verification link (204 whatever the address)' },
      handler: async (request, reply) => {
        await auth.resendVerification(request.body.email, negotiateLanguage(request.headers['accept-language']), clientInfo(request));
        return reply.code(204).send();
      },
    });
  }
  for (const url of authPaths(config, 'registration/verify-email')) {
    app.post(url, {
      schema: { body: KeyBody, tags, summary: 'Confirm an email address (dj-rest-auth: key = uid:token)' },
      handler: async (request) => {
        await auth.verifyEmail({ key: request.body.key }, clientInfo(request));
        return { detail: translate('ok', negotiateLanguage(request.headers['accept-language'])) };
      },
    });
  }
}
