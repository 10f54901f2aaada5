/** Where header mode keeps the tokens between calls. */
export interface StoredTokens {
  access: string;
  refresh?: string;
}

/** A token store: `set(null)` forgets them. */
export interface TokenStorage {
  get(): StoredTokens | null;
  set(tokens: StoredTokens | null): void;
}

/** Tokens in memory: gone on reload, out of reach of other scripts' storage reads. */
export function memoryStorage(): TokenStorage {
  let tokens: StoredTokens | null = null;
  return {
    get: () => tokens,
    set: (next) => {
      tokens = next;
    },
  };
}

/** The part of the Web Storage API used here (window.localStorage, sessionStorage). */
export interface WebStorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

/**
 * Tokens in `localStorage` (or any Web Storage), under one key, shared by the tabs of the origin.
 * @example new LatchkeyClient({ baseUrl, storage: localStorageStorage() })
 */
export function localStorageStorage(key = 'latchkey.tokens', store?: WebStorageLike): TokenStorage {
  const web = () => {
    const found = store ?? (globalThis as { localStorage?: WebStorageLike }).localStorage;
    if (!found) throw new Error('localStorage is not available here; use memoryStorage()');
    return found;
  };
  return {
    get: () => {
      const raw = web().getItem(key);
      if (!raw) return null;
      try {
        const parsed = JSON.parse(raw) as StoredTokens;
        return typeof parsed.access === 'string' ? parsed : null;
      } catch {
        return null;
      }
    },
    set: (tokens) => (tokens ? web().setItem(key, JSON.stringify(tokens)) : web().removeItem(key)),
  };
}
