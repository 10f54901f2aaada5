/**
 * The second factor's keys: TOTP secrets are sealed with AES-256-GCM, and
 * recovery codes are found by a keyed HMAC, both keys derived by HKDF-SHA256
 * from MFA_ENCRYPTION_KEY or, without it, from SIGNING_KEY (SPEC §12).
 */
import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto';

const VERSION = 'v1';

export class MfaKeys {
  readonly #sealKey: Buffer;
  readonly #lookupKey: Buffer;

  constructor(secret: string) {
    this.#sealKey = Buffer.from(hkdfSync('sha256', secret, 'latchkey-mfa', 'totp secret sealing v1', 32));
    this.#lookupKey = Buffer.from(hkdfSync('sha256', secret, 'latchkey-mfa', 'recovery code lookup v1', 32));
  }

  /** `v1.iv.ciphertext.tag` (base64url); `context` (the user id) is bound in as associated data. */
  seal(plain: Buffer, context: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.#sealKey, iv);
    cipher.setAAD(Buffer.from(context));
    const body = Buffer.concat([cipher.update(plain), cipher.final()]);
    return [VERSION, iv, body, cipher.getAuthTag()].map((part) => (typeof part === 'string' ? part : part.toString('base64url'))).join('.');
  }

  /** Throws when the value was sealed with another key or for another user, or was altered. */
  open(sealed: string, context: string): Buffer {
    const [version, iv, body, tag] = sealed.split('.');
    if (version !== VERSION || !iv || body === undefined || !tag) throw new Error('not a sealed MFA secret');
    const decipher = createDecipheriv('aes-256-gcm', this.#sealKey, Buffer.from(iv, 'base64url'));
    decipher.setAAD(Buffer.from(context));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]);
  }

  /** What finds a recovery code's row without revealing it (the argon2id hash proves it). */
  lookup(userId: number, code: string): string {
    return createHmac('sha256', this.#lookupKey).update(`${userId}:${code}`).digest('base64url');
  }
}
