/**
 * Access tokens whose signature was checked lately, with their payloads. A client
 * sends the same access token with every request for the token's lifetime, and
 * the HMAC and the base64 and JSON decoding are most of a token check's CPU.
 *
 * Keyed by the whole token string, so a hit is that exact token, signature
 * included; its claims (expiry first) are still checked at every use. Only
 * tokens that verified get in, so made-up tokens cannot fill it, and a change
 * of the key set (a reload, a key added or retired) empties it. At most `size`
 * entries, the oldest out first: with 4 096 tokens of ~0.4 KB and their
 * payloads, about 3 MiB.
 */
import type { Payload } from './codec.ts';

export class VerifiedTokens {
  readonly #size: number;
  readonly #payloads = new Map<string, Readonly<Payload>>();
  #keys: object | undefined;

  constructor(size = 4096) {
    this.#size = size;
  }

  /** The payload of `token` if it verified under `keys` (the key set's identity: a reload makes a new one). */
  get(token: string, keys: object): Readonly<Payload> | undefined {
    if (keys !== this.#keys) {
      this.#payloads.clear();
      this.#keys = keys;
      return undefined;
    }
    return this.#payloads.get(token);
  }

  add(token: string, keys: object, payload: Payload): void {
    if (this.#size === 0 || keys !== this.#keys) return;
    if (this.#payloads.size >= this.#size) this.#payloads.delete(this.#payloads.keys().next().value!);
    this.#payloads.set(token, Object.freeze(payload));
  }
}
