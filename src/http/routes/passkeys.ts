import { Type } from '@sinclair/typebox';
import { negotiateLanguage } from '../../i18n/index.ts';
import type { PasskeyCeremony, PasskeyInfo, PasskeyRegistration } from '../../wire.ts';
import { authenticate, clientInfo, principal } from '../authenticate.ts';
import { bodyTokens, setTokenCookies } from '../cookies.ts';
import { authPaths } from '../paths.ts';
import { Body, Text } from '../schemas.ts';
import type { App, RouteContext } from '../types.ts';
import { loginBody } from './login.ts';

/**
 * A WebAuthn credential as `PublicKeyCredential.toJSON()` gives it. Only its
 * shape and sizes are checked here (Chromium adds publicKeyAlgorithm, a number, to the response); @simplewebauthn/server judges the rest.
 */
export const Credential = () =>
  Type.Object(
    {
      id: Type.String({ minLength: 1, maxLength: 1400 }),
      rawId: Type.String({ maxLength: 1400 }),
      type: Type.Literal('public-key'),
      response: Type.Object({ clientDataJSON: Type.String({ maxLength: 8192 }) }, { additionalProperties: Type.Union([Type.String({ maxLength: 16384 }), Type.Number(), Type.Array(Type.String({ maxLength: 32 }), { maxItems: 16 }), Type.Null()]) }),
      clientExtensionResults: Type.Optional(Type.Object({}, { additionalProperties: true })),
      authenticatorAttachment: Type.Optional(Type.Union([Type.String({ maxLength: 32 }), Type.Null()])),
    },
    { additionalProperties: true },
  );
export const ChallengeId = () => Text({ maxLength: 64 });
const Name = () => Text({ maxLength: 64 });

const RegisterBody = Body({ challenge_id: ChallengeId(), credential: Credential(), name: Name() });
const RenameBody = Body({ name: Name() });
const Params = Type.Object({ id: Type.String({ maxLength: 64 }) });

/**
 * Passkeys (SPEC §12): the signed-in user's registration ceremony, and their
 * list, renaming and removal. The login with a passkey is passkey-login.ts.
 */
export function passkeysRoutes(app: App, context: RouteContext): void {
  const { auth, config, mountedAuthPath } = context;
  const shape = { minimal: config.loginResponse === 'minimal', changePasswordUrl: `${mountedAuthPath}/change-password/` };

  for (const url of authPaths(config, 'passkeys/register/options')) {
    app.post(url, {
      schema: { tags: ['passkeys'], summary: 'Options to create a passkey (a challenge for five minutes)' },
      onRequest: authenticate(auth),
      handler: async (request): Promise<PasskeyCeremony> => auth.passkeyRegistrationOptions(principal(request)),
    });
  }

  for (const url of authPaths(config, 'passkeys/register')) {
    app.post(url, {
      schema: { body: RegisterBody, tags: ['passkeys'], summary: 'Store a new passkey (the first factor raises this session to aal2 and ends the others)' },
      onRequest: authenticate(auth),
      handler: async (request, reply): Promise<PasskeyRegistration> => {
        const { challenge_id, credential, name } = request.body;
        const result = await auth.registerPasskey(principal(request), challenge_id, credential, name, clientInfo(request), negotiateLanguage(request.headers['accept-language']));
        reply.code(201);
        if (!result.login) return { passkey: result.passkey };
        setTokenCookies(request, reply, context, result.login.tokens);
        return { passkey: result.passkey, ...bodyTokens(loginBody(result.login, shape), context) };
      },
    });
  }

  const [base] = authPaths(config, 'passkeys') as [string];
  app.get(base, {
    schema: { tags: ['passkeys'], summary: "The caller's passkeys" },
    onRequest: authenticate(auth),
    handler: async (request): Promise<PasskeyInfo[]> => auth.passkeys(principal(request)),
  });
  app.patch(`${base}/:id`, {
    schema: { params: Params, body: RenameBody, tags: ['passkeys'], summary: 'Rename one of the caller’s passkeys' },
    onRequest: authenticate(auth),
    handler: async (request): Promise<PasskeyInfo> => auth.renamePasskey(principal(request), request.params.id, request.body.name, clientInfo(request)),
  });
  app.delete(`${base}/:id`, {
    schema: { params: Params, tags: ['passkeys'], summary: 'Remove one of the caller’s passkeys: the sessions it opened end' },
    onRequest: authenticate(auth),
    handler: async (request, reply) => {
      await auth.deletePasskey(principal(request), request.params.id, clientInfo(request), negotiateLanguage(request.headers['accept-language']));
      return reply.code(204).send();
    },
  });
}
