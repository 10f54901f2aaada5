import { Type } from '@sinclair/typebox';
import type { UserChanges } from '../../../auth.ts';
import { actor, formTypes, IdParams, NullableId, paginate, pathId, requireAdmin, SearchQuery } from '../../admin.ts';
import { negotiateLanguage } from '../../../i18n/index.ts';
import { principal } from '../../authenticate.ts';
import { Body, Text } from '../../schemas.ts';
import type { App, RouteContext } from '../../types.ts';

const Name = Type.String({ maxLength: 150 });
const Email = Type.String({ maxLength: 254 });

/** The fields an administrator may set on an existing user. */
const editable = {
  first_name: Type.Optional(Name),
  last_name: Type.Optional(Name),
  email: Type.Optional(Email),
  role: Type.Optional(Type.String()),
  is_staff: Type.Optional(Type.Boolean()),
  is_manager: Type.Optional(Type.Boolean()),
  is_active: Type.Optional(Type.Boolean()),
  account_id: Type.Optional(NullableId),
  password_needs_reset: Type.Optional(Type.Boolean()),
};
const UserCreate = Body({ username: Text({ maxLength: 150 }), password: Type.String({ minLength: 1 }), ...editable });
const UserPatch = Body(editable);

/** /admin/users/: list (paged, searchable), create, read, update, deactivate, and log a user out everywhere. */
export function adminUsersRoutes(app: App, { auth }: RouteContext): void {
  const admin = auth.admin;
  const onRequest = requireAdmin(auth);
  const formBody = formTypes({ booleans: ['is_staff', 'is_manager', 'is_active', 'password_needs_reset'], nullableIds: ['account_id'] });
  const tags = ['admin'];

  app.get('/admin/users', {
    schema: { querystring: SearchQuery, tags, summary: 'Users, by id (searches username, email and names)' },
    onRequest,
    handler: (request, reply) => paginate(request, reply, (page) => admin.listUsers({ ...page, search: request.query.search })),
  });
  app.post('/admin/users', {
    schema: { body: UserCreate, tags, summary: 'Create a user (Django’s password validation applies)' },
    onRequest,
    preValidation: formBody,
    handler: async (request, reply) => {
      const b = request.body;
      const user = await admin.createUser(
        {
          username: b.username,
          password: b.password,
          email: b.email,
          firstName: b.first_name,
          lastName: b.last_name,
          role: b.role,
          isStaff: b.is_staff,
          isManager: b.is_manager,
          isActive: b.is_active,
          accountId: b.account_id,
          passwordNeedsReset: b.password_needs_reset,
        },
        actor(request),
      );
      return reply.code(201).send(user);
    },
  });
  app.get('/admin/users/:id', {
    schema: { params: IdParams, tags, summary: 'One user' },
    onRequest,
    handler: async (request) => admin.getUser(pathId(request.params.id)),
  });
  app.patch('/admin/users/:id', {
    schema: { params: IdParams, body: Type.Optional(UserPatch), tags, summary: 'Change a user; is_active false ends their sessions' },
    onRequest,
    preValidation: formBody,
    handler: async (request) => {
      const body: Record<string, unknown> = request.body ?? {};
      // Only the editable fields: others (username, password, id…) are ignored, as DRF ignores read-only fields.
      const changes = Object.fromEntries(Object.keys(editable).map((field) => [field, body[field]])) as UserChanges;
      return admin.updateUser(pathId(request.params.id), changes, actor(request));
    },
  });
  app.delete('/admin/users/:id', {
    schema: { params: IdParams, tags, summary: 'Deactivate a user and end their sessions (nothing is erased)' },
    onRequest,
    handler: async (request, reply) => {
      await admin.deactivateUser(pathId(request.params.id), actor(request));
      return reply.code(204).send();
    },
  });
  app.post('/admin/users/:id/logout', {
    schema: { params: IdParams, tags, summary: 'End every session of a user' },
    onRequest,
    handler: async (request) => ({ sessions_ended: await admin.endUserSessions(pathId(request.params.id), actor(request)) }),
  });
  app.post('/admin/users/:id/mfa/reset', {
    schema: {
      params: IdParams,
      tags,
      summary: 'Remove every second factor of a user and end its sessions; the user is mailed (an administrator with a factor must be at aal2; never on oneself)',
    },
    onRequest,
    handler: async (request, reply) => {
      const caller = actor(request);
      await auth.resetMfa(pathId(request.params.id), { principal: principal(request), client: caller.client }, negotiateLanguage(request.headers['accept-language']));
      return reply.code(204).send();
    },
  });
  app.post('/admin/users/:id/password-reset', {
    schema: { params: IdParams, tags, summary: 'Mail a user a password-reset link (the administrator never sees a password)' },
    onRequest,
    handler: async (request, reply) => {
      const caller = actor(request);
      await auth.sendPasswordReset(pathId(request.params.id), { principal: principal(request), client: caller.client }, negotiateLanguage(request.headers['accept-language']));
      return reply.code(204).send();
    },
  });
}
