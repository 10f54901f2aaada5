import { Type } from '@sinclair/typebox';
import type { LoginResult } from '../../auth.ts';
import type { LoginResponse, MinimalLoginResponse } from '../../wire.ts';
import { clientInfo } from '../authenticate.ts';
import { bodyTokens, deviceCookie, setTokenCookies } from '../cookies.ts';
import { authPaths } from '../paths.ts';
import { Body, Text } from '../schemas.ts';
import type { App, RouteContext } from '../types.ts';

const LoginBody = Body({ username: Text(), password: Text(), email: Type.Optional(Type.String()), device_token: Type.Optional(Type.String({ maxLength: 128 })) });

/** POST /auth/login/ (and /auth/token/, /api/token/): credentials → tokens. */
export function loginRoute(app: App, context: RouteContext): void {
  const { auth, config, mountedAuthPath } = context;
  const shape = { minimal: config.loginResponse === 'minimal', changePasswordUrl: `${mountedAuthPath}/change-password/` };
  for (const url of authPaths(config, 'login', '{base}/token/', '/api/token/')) {
    app.post(url, {
      schema: { body: LoginBody, tags: ['tokens'], summary: 'Log in with username or email and password' },
      // Load shedding: refused before the body is read when no password check could start or wait.
      onRequest: async () => auth.admitPasswordCheck(),
      // The identifier may come as `email`; from here on it is `username`.
      preValidation: async (request) => {
        const body = request.body as Record<string, unknown> | undefined;
        if (body && typeof body === 'object' && body.username === undefined && body.email !== undefined) {
          body.username = body.email;
          delete body.email;
        }
      },
      handler: async (request, reply) => {
        const { username, password } = request.body;
        // A remembered device (MFA_REMEMBER_DEVICE_DAYS): the body's token, else its cookie.
        const deviceToken = request.body.device_token?.trim() || deviceCookie(request, context);
        const result = await auth.login({ identifier: username, password, deviceToken }, clientInfo(request));
        setTokenCookies(request, reply, context, result.tokens);
        return bodyTokens(loginBody(result, shape), context);
      },
    });
  }
}

/**
 * SimpleJWT's `{access, refresh}` when minimal; else the expiries, the user and, for a forced reset,
 * where to go; `mfa_enrollment_required` when the tokens wait for a factor; a remembered device's token.
 */
export function loginBody(
  { tokens, user, mfaEnrollmentRequired, device }: LoginResult,
  shape: { minimal: boolean; changePasswordUrl: string },
): LoginResponse | MinimalLoginResponse {
  // A client that asked for `remember_device` knows of MFA: the device token comes even in SimpleJWT's minimal body.
  const remembered = device ? { device_token: device.token, device_token_expires_at: isoDateTime(device.expiresAt) } : {};
  if (shape.minimal) return { access: tokens.access, refresh: tokens.refresh, ...remembered };
  return {
    ...tokens,
    role: user.role,
    email: user.email,
    password_needs_reset: user.password_needs_reset,
    ...(user.password_needs_reset ? { password_reset_url: shape.changePasswordUrl } : {}),
    ...(mfaEnrollmentRequired ? { mfa_enrollment_required: true as const } : {}),
    ...remembered,
    user,
  };
}

/** DRF's datetime rendering, to the second. */
function isoDateTime(value: Date): string {
  return new Date(Math.floor(value.getTime() / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}
