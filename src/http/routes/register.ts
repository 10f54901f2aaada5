import { Type } from '@sinclair/typebox';
import { negotiateLanguage } from '../../i18n/index.ts';
import { clientInfo } from '../authenticate.ts';
import { authPaths } from '../paths.ts';
import { Body, Text } from '../schemas.ts';
import type { App, RouteContext } from '../types.ts';

const Name = Type.String({ maxLength: 150 });
const RegisterBody = Body({
  username: Text({ maxLength: 150 }),
  email: Text({ maxLength: 254 }),
  password: Text(),
  first_name: Type.Optional(Name),
  last_name: Type.Optional(Name),
});

/** POST /auth/register/: open sign-up → 201 with the new user. Not routed when REGISTRATION_ENABLED=false (404). */
export function registerRoute(app: App, { auth, config }: RouteContext): void {
  if (!config.registrationEnabled) return;
  for (const url of authPaths(config, 'register')) {
    app.post(url, {
      schema: { body: RegisterBody, tags: ['accounts'], summary: 'Create an account' },
      onRequest: async () => auth.admitPasswordCheck(),
      handler: async (request, reply) => {
        const { username, email, password, first_name, last_name } = request.body;
        const user = await auth.register(
          { username, email, password, ...(first_name !== undefined ? { firstName: first_name } : {}), ...(last_name !== undefined ? { lastName: last_name } : {}) },
          clientInfo(request),
          negotiateLanguage(request.headers['accept-language']),
        );
        return reply.code(201).send(user);
      },
    });
  }
}
