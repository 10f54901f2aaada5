import type { LatchkeyClient } from './index.ts';

/** The part of an axios request config the interceptor reads and writes. */
export interface AxiosLikeConfig {
  method?: string;
  headers?: Record<string, unknown> | { set(name: string, value: string): unknown };
  withCredentials?: boolean;
  /** Set on the retry, so a second 401 is not refreshed again. */
  latchkeyRetried?: boolean;
}

/** The part of an axios instance used: its interceptors and `request` (typed here so axios is no dependency). */
export interface AxiosLike {
  interceptors: {
    request: { use(onFulfilled: (config: AxiosLikeConfig) => AxiosLikeConfig | Promise<AxiosLikeConfig>): number; eject(id: number): void };
    response: { use(onFulfilled: ((response: unknown) => unknown) | undefined, onRejected: (error: unknown) => unknown): number; eject(id: number): void };
  };
  request(config: AxiosLikeConfig): Promise<unknown>;
}

/**
 * Wires a client into an axios instance: each request gets the session's
 * headers (and `withCredentials` in cookie mode); a 401 refreshes once, shared
 * with every concurrent caller, and the request is retried once. Returns a
 * function that removes the interceptors.
 * @example const detach = axiosInterceptor(client, axios.create({ baseURL: 'https://api.example.com' }));
 */
export function axiosInterceptor(client: LatchkeyClient, axios: AxiosLike): () => void {
  const generationOf = new WeakMap<object, number>();
  const requestId = axios.interceptors.request.use((config) => {
    const headers = client.authHeaders(config.method ?? 'GET');
    for (const [name, value] of Object.entries(headers)) setHeader(config, name, value);
    if (client.withCredentials) config.withCredentials = true;
    generationOf.set(config, client.generation);
    return config;
  });
  const responseId = axios.interceptors.response.use(undefined, async (error: unknown) => {
    const { config, response } = (error ?? {}) as { config?: AxiosLikeConfig; response?: { status?: number } };
    if (!config || response?.status !== 401 || config.latchkeyRetried) throw error;
    // Someone already refreshed since this request left: just retry with the new token.
    if (generationOf.get(config) === client.generation) {
      try {
        await client.refresh();
      } catch {
        throw error;
      }
    }
    return axios.request({ ...config, latchkeyRetried: true });
  });
  return () => {
    axios.interceptors.request.eject(requestId);
    axios.interceptors.response.eject(responseId);
  };
}

function setHeader(config: AxiosLikeConfig, name: string, value: string): void {
  const headers = config.headers;
  if (headers && typeof (headers as { set?: unknown }).set === 'function') (headers as { set(n: string, v: string): unknown }).set(name, value);
  else config.headers = { ...(headers as Record<string, unknown> | undefined), [name]: value };
}
