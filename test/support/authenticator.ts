/**
 * A software WebAuthn authenticator for tests: a P-256 key made with
 * node:crypto, attestation "none", real CBOR (the encoder @simplewebauthn/server
 * ships) and real ECDSA signatures, so the server's verification runs for real.
 */
import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { isoCBOR } from '@simplewebauthn/server/helpers';

const b64url = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64url');
const sha256 = (data: Uint8Array | string) => createHash('sha256').update(data).digest();

const FLAG_UP = 0x01;
const FLAG_UV = 0x04;
const FLAG_BE = 0x08;
const FLAG_BS = 0x10;
const FLAG_AT = 0x40;

export interface AuthenticatorOptions {
  origin: string;
  rpId: string;
  /** A synced passkey (backup eligible and backed up): amr `swk`; otherwise a device-bound key: `hwk`. */
  synced?: boolean;
}

/** What a ceremony may be tampered with, to test that the server refuses it. */
export interface Tamper {
  origin?: string;
  rpId?: string;
  challenge?: string;
  /** Sign with another key (a forged assertion). */
  forge?: boolean;
  /** Leave user verification out. */
  noUv?: boolean;
  /** Use this counter instead of the next one. */
  counter?: number;
  type?: string;
}

export class SoftAuthenticator {
  readonly credentialId = randomBytes(32);
  readonly #privateKey: KeyObject;
  readonly #publicKey: KeyObject;
  readonly #options: AuthenticatorOptions;
  counter = 0;
  userHandle: string | undefined;

  constructor(options: AuthenticatorOptions) {
    const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    this.#privateKey = pair.privateKey;
    this.#publicKey = pair.publicKey;
    this.#options = options;
  }

  get id(): string {
    return b64url(this.credentialId);
  }

  /** navigator.credentials.create(): a registration response as PublicKeyCredential.toJSON() gives it. */
  create(options: { challenge: string; user: { id: string } }, tamper: Tamper = {}) {
    this.userHandle = options.user.id;
    const jwk = this.#publicKey.export({ format: 'jwk' });
    const cose = isoCBOR.encode(
      new Map<number, number | Uint8Array>([
        [1, 2], // kty: EC2
        [3, -7], // alg: ES256
        [-1, 1], // crv: P-256
        [-2, Buffer.from(jwk.x!, 'base64url')],
        [-3, Buffer.from(jwk.y!, 'base64url')],
      ]),
    );
    const idLength = Buffer.alloc(2);
    idLength.writeUInt16BE(this.credentialId.length);
    const attested = Buffer.concat([Buffer.alloc(16), idLength, this.credentialId, cose]);
    const authData = Buffer.concat([this.#authData(FLAG_AT, tamper), attested]);
    const attestationObject = isoCBOR.encode(new Map<string, unknown>([['fmt', 'none'], ['attStmt', new Map()], ['authData', authData]]) as never);
    return {
      id: this.id,
      rawId: this.id,
      type: 'public-key',
      response: {
        clientDataJSON: this.#clientData('webauthn.create', options.challenge, tamper),
        attestationObject: b64url(attestationObject),
        transports: ['internal'],
      },
      clientExtensionResults: {},
      authenticatorAttachment: 'platform',
    };
  }

  /** navigator.credentials.get(): an assertion as PublicKeyCredential.toJSON() gives it. */
  get(options: { challenge: string }, tamper: Tamper = {}) {
    this.counter = tamper.counter ?? this.counter + 1;
    const authData = this.#authData(0, tamper);
    const clientDataJSON = this.#clientData('webauthn.get', options.challenge, tamper);
    const signed = Buffer.concat([authData, sha256(Buffer.from(clientDataJSON, 'base64url'))]);
    const key = tamper.forge ? generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey : this.#privateKey;
    return {
      id: this.id,
      rawId: this.id,
      type: 'public-key',
      response: {
        clientDataJSON,
        authenticatorData: b64url(authData),
        signature: b64url(sign('sha256', signed, key)),
        userHandle: this.userHandle,
      },
      clientExtensionResults: {},
      authenticatorAttachment: 'platform',
    };
  }

  #authData(extraFlags: number, tamper: Tamper): Buffer {
    let flags = FLAG_UP | extraFlags | (tamper.noUv ? 0 : FLAG_UV);
    if (this.#options.synced) flags |= FLAG_BE | FLAG_BS;
    const counter = Buffer.alloc(4);
    counter.writeUInt32BE(this.counter);
    return Buffer.concat([sha256(tamper.rpId ?? this.#options.rpId), Buffer.from([flags]), counter]);
  }

  #clientData(type: string, challenge: string, tamper: Tamper): string {
    return b64url(Buffer.from(JSON.stringify({ type: tamper.type ?? type, challenge: tamper.challenge ?? challenge, origin: tamper.origin ?? this.#options.origin, crossOrigin: false })));
  }
}
