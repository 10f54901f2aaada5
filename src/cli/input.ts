/** Reading what the user did not pass as flags: a terminal prompt, or stdin. */
import { input, password } from '@inquirer/prompts';
import { UsageError } from './errors.ts';

/** Prompts only when both ends are a terminal: a script never hangs waiting for an answer. */
export function canPrompt(): boolean {
  return Boolean(process.stdin.isTTY && process.stdout.isTTY);
}

/**
 * The flag's value, else an answer at a prompt, else a usage error naming the flag.
 * @example const username = await required(options.username, '--username', canPrompt(), () => askText('Username'));
 */
export async function required(value: string | undefined, flag: string, interactive: boolean, ask: () => Promise<string>): Promise<string> {
  if (value !== undefined) return value;
  if (!interactive) throw new UsageError(`${flag} is required (no terminal to prompt on)`);
  return ask();
}

export function askText(message: string, options: { optional?: boolean } = {}): Promise<string> {
  return input({
    message: options.optional ? `${message} (optional):` : `${message}:`,
    validate: (value) => options.optional || value.trim() !== '' || 'This field may not be blank.',
  });
}

/** Asks twice, until both answers match. */
export async function askNewPassword(): Promise<string> {
  for (;;) {
    const first = await password({ message: 'Password:', mask: true, validate: (value) => value !== '' || 'This field may not be blank.' });
    const again = await password({ message: 'Password (again):', mask: true });
    if (first === again) return first;
    console.error('The two passwords did not match; try again.');
  }
}

/** All of stdin, less one trailing newline (what `echo` or a here-string adds). */
export async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}
