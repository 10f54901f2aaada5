/**
 * The words of the "second factor added / removed" mails (SPEC §12): which
 * method, when, and who did it — in English and French, never a secret.
 */
import type { Language } from '../i18n/index.ts';
import type { MailValues } from '../mail/templates.ts';

/** A kind of second factor, as the mails name it (`webauthn` is a passkey). */
export type FactorMethod = 'totp' | 'recovery_code' | 'webauthn';

/** Who changed the factor: the user, an administrator (admin API) or an operator (`latchkey reset-mfa`). */
export type FactorActor = 'user' | 'admin' | 'operator';

/** One change to a user's second factors, for its mail. */
export interface FactorChange {
  change: 'added' | 'removed';
  methods: readonly FactorMethod[];
  by: FactorActor;
  at: Date;
}

const METHODS: Record<Language, Record<FactorMethod, string>> = {
  en: { totp: 'an authenticator app (TOTP)', recovery_code: 'recovery codes', webauthn: 'a passkey' },
  fr: { totp: 'une application d’authentification (TOTP)', recovery_code: 'des codes de secours', webauthn: 'une clé d’accès' },
};

const ACTORS: Record<Language, Record<FactorActor, string>> = {
  en: {
    user: 'It was done from a signed-in session, with a current code.',
    admin: 'An administrator reset your second factor and signed you out everywhere; you can sign in with your password and add a new one.',
    operator: 'An operator reset your second factor and signed you out everywhere; you can sign in with your password and add a new one.',
  },
  fr: {
    user: 'Cela a été fait depuis une session ouverte, avec un code valide.',
    admin: 'Un administrateur a réinitialisé votre second facteur et vous a déconnecté partout\u00a0; vous pouvez vous connecter avec votre mot de passe et en ajouter un nouveau.',
    operator: 'Un opérateur a réinitialisé votre second facteur et vous a déconnecté partout\u00a0; vous pouvez vous connecter avec votre mot de passe et en ajouter un nouveau.',
  },
};

const AND: Record<Language, string> = { en: ' and ', fr: ' et ' };

/** "2 December 2026 at 12:45 UTC", "2 décembre 2026 à 12:45 UTC". */
export function describeTime(at: Date, lang: Language): string {
  const format = new Intl.DateTimeFormat(lang === 'fr' ? 'fr-FR' : 'en-GB', { dateStyle: 'long', timeStyle: 'short', timeZone: 'UTC' });
  return `${format.format(at)} UTC`;
}

/** The values the factor mails fill in. `link` is where the user resets the password. */
export function noticeValues(username: string, change: FactorChange, lang: Language, link: string): MailValues {
  const names = change.methods.map((method) => METHODS[lang][method]);
  return {
    username,
    method: names.length > 1 ? `${names.slice(0, -1).join(', ')}${AND[lang]}${names.at(-1)}` : (names[0] ?? ''),
    time: describeTime(change.at, lang),
    actor: ACTORS[lang][change.by],
    link,
  };
}
