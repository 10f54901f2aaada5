import type { PasskeyCeremony } from '../../wire.ts';
import { clientInfo } from '../authenticate.ts';
import { bodyTokens, setTokenCookies } from '../cookies.ts';
import { authPaths } from '../paths.ts';
import { Body } from '../schemas.ts';
import type { App, RouteContext } from '../types.ts';
import { loginBody } from './login.ts';
import { ChallengeId, Credential } from './passkeys.ts';

const LoginBody = Body({ challenge_id: ChallengeId(), credential: Credential() });

/**
 * A login with a passkey alone (SPEC §12): options without a credential list,
 * so the browser offers the user's passkeys (autofill from the username field),
 * then the assertion → exactly the login body.
 */
export function passkeyLoginRoutes(app: App, context: RouteContext): void {
  const { auth, config, mountedAuthPath } = context;
  const shape = { minimal: config.loginResponse === 'minimal', changePasswordUrl: `${mountedAuthPath}/change-password/` };

  for (const url of authPaths(config, 'passkeys/login/options')) {
    app.post(url, {
      schema: { body: Body({}), tags: ['passkeys'], summary: 'Options for a login with a passkey (a challenge for five minutes)' },
      handler: async (): Promise<PasskeyCeremony> => auth.passkeyLoginOptions(),
    });
  }

  for (const url of authPaths(config, 'passkeys/login')) {
    app.post(url, {
      schema: { body: LoginBody, tags: ['passkeys'], summary: 'Log in with a passkey → tokens, user' },
      handler: async (request, reply) => {
        const result = await auth.loginWithPasskey(request.body.challenge_id, request.body.credential, clientInfo(request));
        setTokenCookies(request, reply, context, result.tokens);
        return bodyTokens(loginBody(result, shape), context);
      },
    });
  }
}
