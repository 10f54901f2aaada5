/**
 * How the CLI fails: exit statuses, one-line messages, and the JSON shape an
 * error takes across the control socket so it prints the same either way.
 */
import { AuthError, ConfigError, ConflictError, StoreUnavailableError, ValidationError, type AuthErrorCode } from '../errors.ts';

/** 0 success, 1 the command failed, 2 bad usage or configuration, 130 cancelled at a prompt. */
export type ExitStatus = 0 | 1 | 2 | 130;

export const EXIT_STATUS_HELP = `
Exit status: 0 on success, 1 when the command fails (invalid input, a name
already taken, database unreachable), 2 on bad usage or a bad environment
variable, 130 when a prompt is cancelled.`;

/** Bad arguments or a missing value with no terminal to ask on: exit 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** The command could not do its work for a reason the user can act on: exit 1. */
export class CliError extends Error {
  override readonly name = 'CliError';
}

/** An error as it crosses the control socket. */
export type WireError =
  | { kind: 'validation' | 'conflict'; message: string; fields: Record<string, string[]> }
  | { kind: 'auth'; code: AuthErrorCode; message: string }
  | { kind: 'usage' | 'failure'; message: string };

/** Serialises a thrown error for the control socket. Unknown errors keep only their message. */
export function toWire(error: unknown): WireError {
  if (error instanceof ValidationError) {
    return { kind: error instanceof ConflictError ? 'conflict' : 'validation', message: error.message, fields: error.fields };
  }
  if (error instanceof AuthError) return { kind: 'auth', code: error.code, message: describeAuthError(error) };
  if (error instanceof UsageError) return { kind: 'usage', message: error.message };
  return { kind: 'failure', message: error instanceof Error ? error.message : String(error) };
}

/** The inverse of toWire: the client rethrows what the server threw. */
export function fromWire(wire: WireError): Error {
  switch (wire.kind) {
    case 'conflict':
      return new ConflictError(wire.fields);
    case 'validation':
      return new ValidationError(wire.fields);
    case 'auth':
      return new AuthError(wire.code, wire.message);
    case 'usage':
      return new UsageError(wire.message);
    case 'failure':
      return new CliError(wire.message);
  }
}

/**
 * The lines to print on stderr and the exit status for an error.
 * @example const { lines, status } = report(new UsageError('--username is required'));
 */
export function report(error: unknown): { lines: string[]; status: ExitStatus } {
  if (error instanceof ValidationError) {
    const lines = Object.entries(error.fields).map(([field, messages]) => `error: ${field}: ${messages.join(' ')}`);
    return { lines, status: 1 };
  }
  if (error instanceof UsageError || error instanceof ConfigError) return { lines: [`error: ${oneLine(error.message)}`], status: 2 };
  if (error instanceof AuthError) return { lines: [`error: ${oneLine(describeAuthError(error))}`], status: 1 };
  if (error instanceof Error && error.name === 'ExitPromptError') return { lines: ['cancelled'], status: 130 };
  const message = error instanceof Error ? error.message : String(error);
  return { lines: [`error: ${oneLine(message)}`], status: 1 };
}

/** A store outage names its cause; an error rebuilt from the wire already carries that text. */
function describeAuthError(error: AuthError): string {
  if (!(error instanceof StoreUnavailableError)) return error.message;
  const cause = error.cause instanceof Error ? `: ${error.cause.message}` : '';
  return `cannot reach the database${cause}`;
}

function oneLine(message: string): string {
  return message.replace(/\s*\n\s*/g, ' ').trim();
}
