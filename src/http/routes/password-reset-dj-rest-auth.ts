import { negotiateLanguage, translate } from '../../i18n/index.ts';
import { clientInfo } from '../authenticate.ts';
import { authPaths } from '../paths.ts';
import { Body, Text } from '../schemas.ts';
import type { App, RouteContext } from '../types.ts';

const RequestBody = Body({ email: Text() });
// dj-rest-auth's PasswordResetConfirmSerializer: CharField(max_length=128) for both passwords.
const Password = () => Text({ maxLength: 128 });
const ConfirmBody = Body({ new_password1: Password(), new_password2: Password(), uid: Text(), token: Text() });
const tags = ['password reset'];

/** dj-rest-auth's words (dj_rest_auth/views.py). */
export const SENT = 'Password reset e-mail has been sent.';
export const RESET = 'Password has been reset with the new password.';

/**
 * Password reset in dj-rest-auth's dialect (SPEC §11): the same service, its
 * fields (`new_password1`, `new_password2`), its 200 bodies and messages.
 */
export function djRestAuthResetRoutes(app: App, { auth, config }: RouteContext): void {
  for (const url of authPaths(config, 'password/reset')) {
    app.post(url, {
      schema: { body: RequestBody, tags, summary: 'Mail a reset link (dj-rest-auth)' },
      handler: async (request) => {
        const lang = negotiateLanguage(request.headers['accept-language']);
        await auth.requestPasswordReset(request.body.email, lang, clientInfo(request));
        return { detail: translate(SENT, lang) };
      },
    });
  }
  for (const url of authPaths(config, 'password/reset/confirm')) {
    app.post(url, {
      schema: { body: ConfirmBody, tags, summary: 'Set a new password from a reset link (dj-rest-auth)' },
      onRequest: async () => auth.admitPasswordCheck(),
      handler: async (request) => {
        const lang = negotiateLanguage(request.headers['accept-language']);
        const { uid, token, new_password1, new_password2 } = request.body;
        await auth.confirmPasswordReset({ uid, token, newPassword: new_password1, retyped: new_password2, dialect: 'dj-rest-auth', lang }, clientInfo(request));
        return { detail: translate(RESET, lang) };
      },
    });
  }
}

