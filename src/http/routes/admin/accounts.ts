import { Type } from '@sinclair/typebox';
import { actor, formTypes, IdParams, paginate, pathId, requireAdmin, SearchQuery } from '../../admin.ts';
import { Body, Text } from '../../schemas.ts';
import type { App, RouteContext } from '../../types.ts';

const Name = Text({ maxLength: 150 });
const AccountCreate = Body({ name: Name });
const AccountPatch = Body({ name: Type.Optional(Name), is_active: Type.Optional(Type.Boolean()) });

/** /admin/accounts/: tenants — list (paged, searchable by name), create, read, update, deactivate. */
export function adminAccountsRoutes(app: App, { auth }: RouteContext): void {
  const admin = auth.admin;
  const onRequest = requireAdmin(auth);
  const tags = ['admin'];

  app.get('/admin/accounts', {
    schema: { querystring: SearchQuery, tags, summary: 'Accounts (tenants), by id' },
    onRequest,
    handler: (request, reply) => paginate(request, reply, (page) => admin.listAccounts({ ...page, search: request.query.search })),
  });
  app.post('/admin/accounts', {
    schema: { body: AccountCreate, tags, summary: 'Create an account' },
    onRequest,
    handler: async (request, reply) => reply.code(201).send(await admin.createAccount({ name: request.body.name }, actor(request))),
  });
  app.get('/admin/accounts/:id', {
    schema: { params: IdParams, tags, summary: 'One account' },
    onRequest,
    handler: async (request) => await admin.getAccount(pathId(request.params.id)),
  });
  app.patch('/admin/accounts/:id', {
    schema: { params: IdParams, body: Type.Optional(AccountPatch), tags, summary: 'Rename, deactivate or reactivate an account' },
    onRequest,
    preValidation: formTypes({ booleans: ['is_active'] }),
    handler: async (request) => {
      const { name, is_active } = request.body ?? {};
      const changes = { ...(name !== undefined ? { name } : {}), ...(is_active !== undefined ? { is_active } : {}) };
      return await admin.updateAccount(pathId(request.params.id), changes, actor(request));
    },
  });
  app.delete('/admin/accounts/:id', {
    schema: { params: IdParams, tags, summary: 'Deactivate an account and end its users’ sessions' },
    onRequest,
    handler: async (request, reply) => {
      await admin.deactivateAccount(pathId(request.params.id), actor(request));
      return reply.code(204).send();
    },
  });
}
