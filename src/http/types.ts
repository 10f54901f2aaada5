import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Auth, Principal } from '../auth.ts';
import type { Config } from '../config.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the `authenticate` pre-handler on routes that need a caller. */
    principal: Principal | null;
  }
  interface FastifyInstance {
    /** The settings of the Latchkey plugin this instance belongs to (undefined outside it). */
    latchkeyConfig?: Config;
  }
}

export type App = FastifyInstance<Server, IncomingMessage, ServerResponse, FastifyBaseLogger, TypeBoxTypeProvider>;

/** What every route module is given. */
export interface RouteContext {
  auth: Auth;
  config: Config;
  /** AUTH_BASE_PATH as clients see it: under the prefix the plugin is mounted at. */
  mountedAuthPath: string;
}
