import { Type } from '@sinclair/typebox';
import { negotiateLanguage } from '../../i18n/index.ts';
import { clientInfo } from '../authenticate.ts';
import { authPaths } from '../paths.ts';
import { Body, Text } from '../schemas.ts';
import type { App, RouteContext } from '../types.ts';

const RequestBody = Body({ email: Text() });
const LinkBody = Body({ uid: Text(), token: Text() });
const ConfirmBody = Body({ uid: Text(), token: Text(), new_password: Text(), re_new_password: Type.Optional(Text()) });
const tags = ['password reset'];

/**
 * Password reset in djoser's dialect (SPEC §11): request → 204 whether the
 * address is known or not; validate → 200 {} (uses nothing); confirm → 204.
 * djoser's own paths (/auth/users/reset_password/, …_confirm/) are aliases.
 */
export function passwordResetRoutes(app: App, { auth, config }: RouteContext): void {
  for (const url of authPaths(config, 'password-reset', '{base}/users/reset_password/')) {
    app.post(url, {
      schema: { body: RequestBody, tags, summary: 'Mail a reset link (204 whether the address is known or not)' },
      handler: async (request, reply) => {
        await auth.requestPasswordReset(request.body.email, negotiateLanguage(request.headers['accept-language']), clientInfo(request));
        return reply.code(204).send();
      },
    });
  }
  for (const url of authPaths(config, 'password-reset/validate')) {
    app.post(url, {
      schema: { body: LinkBody, tags, summary: 'Check a reset link without using it' },
      handler: async (request) => {
        await auth.validatePasswordReset(request.body.uid, request.body.token, 'djoser');
        return {};
      },
    });
  }
  for (const url of authPaths(config, 'password-reset/confirm', '{base}/users/reset_password_confirm/')) {
    app.post(url, {
      schema: { body: ConfirmBody, tags, summary: 'Set a new password from a reset link; every session of the user ends' },
      onRequest: async () => auth.admitPasswordCheck(),
      handler: async (request, reply) => {
        const { uid, token, new_password, re_new_password } = request.body;
        await auth.confirmPasswordReset(
          { uid, token, newPassword: new_password, ...(re_new_password !== undefined ? { retyped: re_new_password } : {}), dialect: 'djoser', lang: negotiateLanguage(request.headers['accept-language']) },
          clientInfo(request),
        );
        return reply.code(204).send();
      },
    });
  }
}
