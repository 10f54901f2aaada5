import { Type } from '@sinclair/typebox';
import { ValidationError } from '../../errors.ts';
import { negotiateLanguage } from '../../i18n/index.ts';
import type { MfaStatus, PasskeyCeremony, TotpConfirmation, TotpEnrollment } from '../../wire.ts';
import { authenticate, clientInfo, principal } from '../authenticate.ts';
import { formTypes } from '../admin.ts';
import { bodyTokens, setDeviceCookie, setTokenCookies } from '../cookies.ts';
import { authPaths } from '../paths.ts';
import { Body, Text } from '../schemas.ts';
import type { App, RouteContext } from '../types.ts';
import { loginBody } from './login.ts';
import { Credential } from './passkeys.ts';

/** Codes are short; anything longer is refused by the schema before any work. */
const Code = () => Text({ maxLength: 64 });
const MfaToken = () => Text({ maxLength: 128 });
const VerifyBody = Body({
  mfa_token: MfaToken(),
  code: Type.Optional(Type.String({ maxLength: 64 })),
  recovery_code: Type.Optional(Type.String({ maxLength: 64 })),
  challenge_id: Type.Optional(Type.String({ maxLength: 64 })),
  credential: Type.Optional(Credential()),
  remember_device: Type.Optional(Type.Boolean()),
});
const WebauthnOptionsBody = Body({ mfa_token: MfaToken() });
const DeviceParams = Type.Object({ id: Type.String({ maxLength: 64 }) });
const PasswordBody = Body({ password: Text() });
const CodeBody = Body({ code: Code() });

/**
 * The second factor (SPEC §12): the second step of a login, TOTP enrolment
 * behind the password, its removal, recovery codes and the caller's status.
 */
export function mfaRoutes(app: App, context: RouteContext): void {
  const { auth, config, mountedAuthPath } = context;
  const shape = { minimal: config.loginResponse === 'minimal', changePasswordUrl: `${mountedAuthPath}/change-password/` };

  for (const url of authPaths(config, 'mfa/verify')) {
    app.post(url, {
      schema: { body: VerifyBody, tags: ['mfa'], summary: 'Second step of a login: the mfa_token and a TOTP code, a recovery code or a passkey → tokens (remember_device: a device token)' },
      preValidation: formTypes({ booleans: ['remember_device'] }),
      handler: async (request, reply) => {
        const { mfa_token, code, recovery_code, challenge_id, credential, remember_device } = request.body;
        // Exactly one proof, as DRF would say it for a serializer's validate().
        const given = [code, recovery_code].filter((value) => value !== undefined && value.trim() !== '').length + (credential !== undefined ? 1 : 0);
        if (given !== 1) throw new ValidationError({ non_field_errors: ['Give either code, recovery_code or credential.'] });
        if (credential !== undefined && (challenge_id === undefined || challenge_id.trim() === '')) throw new ValidationError({ challenge_id: ['This field is required.'] });
        const options = { rememberDevice: remember_device === true };
        const result = credential !== undefined
          ? await auth.verifyMfaPasskey(mfa_token, challenge_id!.trim(), credential, clientInfo(request), options)
          : await auth.verifyMfa(mfa_token, code !== undefined && code.trim() !== '' ? { code: code.trim() } : { recoveryCode: (recovery_code ?? '').trim() }, clientInfo(request), options);
        setTokenCookies(request, reply, context, result.tokens);
        if (result.device) setDeviceCookie(reply, context, result.device);
        return bodyTokens(loginBody(result, shape), context);
      },
    });
  }

  for (const url of authPaths(config, 'mfa/webauthn/options')) {
    app.post(url, {
      schema: { body: WebauthnOptionsBody, tags: ['mfa'], summary: 'Second step of a login with a passkey: options for the mfa_token' },
      handler: async (request): Promise<PasskeyCeremony> => auth.mfaPasskeyOptions(request.body.mfa_token, clientInfo(request)),
    });
  }

  for (const url of authPaths(config, 'mfa')) {
    app.get(url, {
      schema: { tags: ['mfa'], summary: "The caller's second factors" },
      onRequest: authenticate(auth),
      handler: async (request): Promise<MfaStatus> => auth.mfaStatus(principal(request)),
    });
  }

  for (const url of authPaths(config, 'mfa/totp')) {
    app.post(url, {
      schema: { body: PasswordBody, tags: ['mfa'], summary: 'Start TOTP enrolment (password required): a pending secret for ten minutes' },
      onRequest: [authenticate(auth), async () => auth.admitPasswordCheck()],
      handler: async (request, reply): Promise<TotpEnrollment> => {
        const enrollment = await auth.beginTotp(principal(request), request.body.password, clientInfo(request));
        reply.code(201);
        return enrollment;
      },
    });
    app.delete(url, {
      schema: { body: CodeBody, tags: ['mfa'], summary: 'Remove the TOTP factor with a current code' },
      onRequest: authenticate(auth),
      handler: async (request, reply) => {
        await auth.removeTotp(principal(request), request.body.code, clientInfo(request), negotiateLanguage(request.headers['accept-language']));
        return reply.code(204).send();
      },
    });
  }

  for (const url of authPaths(config, 'mfa/totp/confirm')) {
    app.post(url, {
      schema: { body: CodeBody, tags: ['mfa'], summary: 'Confirm TOTP enrolment with a first code: recovery codes and a fresh pair at aal2' },
      onRequest: authenticate(auth),
      handler: async (request, reply): Promise<TotpConfirmation> => {
        const result = await auth.confirmTotp(principal(request), request.body.code, clientInfo(request), negotiateLanguage(request.headers['accept-language']));
        setTokenCookies(request, reply, context, result.tokens);
        return { recovery_codes: result.recoveryCodes, ...bodyTokens(loginBody(result, shape), context) };
      },
    });
  }

  for (const url of authPaths(config, 'mfa/devices/:id')) {
    app.delete(url, {
      schema: { params: DeviceParams, tags: ['mfa'], summary: 'Forget a remembered device: its next login asks for the second factor again' },
      onRequest: authenticate(auth),
      handler: async (request, reply) => {
        await auth.forgetDevice(principal(request), request.params.id, clientInfo(request));
        return reply.code(204).send();
      },
    });
  }

  for (const url of authPaths(config, 'mfa/recovery-codes')) {
    app.post(url, {
      schema: { body: CodeBody, tags: ['mfa'], summary: 'Replace the recovery codes (a current TOTP code required)' },
      onRequest: authenticate(auth),
      handler: async (request) => ({ recovery_codes: await auth.regenerateRecoveryCodes(principal(request), request.body.code, clientInfo(request)) }),
    });
  }
}
