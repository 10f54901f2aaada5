import { randomUUID } from 'node:crypto';

export type TokenType = 'access' | 'refresh';

/** What Latchkey puts in a token, independent of the claim names on the wire. */
export interface TokenClaims {
  tokenType: TokenType;
  /** Seconds since the epoch. */
  exp: number;
  iat: number;
  jti: string;
  userId: number;
  /** The session. Empty on a legacy token: its session is found through its jti. */
  sid: string;
  /**
   * A token SimpleJWT issued before the move (no `sid`): a refresh token (imported from Django's
   * blacklist app, or exchanged under ACCEPT_SIMPLEJWT_TOKENS), or an access token under that switch.
   */
  legacy?: true;
  role: string | null;
  accountId: number | null;
  /** Set on tokens of a user who must change their password first (forced reset): most routes refuse them. */
  passwordResetRequired?: boolean;
  /** Set on tokens of a user whose role needs a second factor and who has none yet (MFA_REQUIRED_ROLES): most routes refuse them. */
  mfaEnrollmentRequired?: boolean;
  /** How the session's user got in (SPEC §12): RFC 8176 methods, the assurance level, when (seconds since the epoch). */
  amr?: string[];
  aal?: string;
  authTime?: number;
  /** Whether the user's address is proven; written only when EMAIL_VERIFICATION is not `none`. */
  emailVerified?: boolean;
}

/** A JWT ID as SimpleJWT makes one: a uuid4 in 32 lowercase hex characters. */
export function newJti(): string {
  return randomUUID().replaceAll('-', '');
}

export const JTI_PATTERN = /^[0-9a-f]{32}$/;
