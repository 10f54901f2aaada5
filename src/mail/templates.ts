/**
 * The mails Latchkey sends, in English and French: a subject, a text body and
 * an HTML body each. A directory (EMAIL_TEMPLATES_DIR) may replace any of them,
 * file by file: `password_reset.fr.html`, `password_reset.en.subject.txt`, …
 * `{{name}}` is replaced by the value (HTML-escaped in the HTML body).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Language } from '../i18n/index.ts';

export const MAIL_KINDS = ['password_reset', 'password_changed', 'email_verify', 'email_changed'] as const;
export type MailKind = (typeof MAIL_KINDS)[number];

export interface RenderedMail {
  subject: string;
  text: string;
  html: string;
}

/** What a template may use. `link` is absent from the password-changed and email-changed notices. */
export type MailValues = Record<string, string>;

type Parts = { subject: string; text: string; html: string };

const layout = (lang: Language, body: string) =>
  `<!doctype html>\n<html lang="${lang}"><body style="font-family: system-ui, sans-serif; line-height: 1.5; color: #1b1b1b">\n${body}\n</body></html>\n`;
const button = (label: string) =>
  `<p><a href="{{link}}" style="display: inline-block; padding: .6em 1.2em; background: #1f4fd1; color: #fff; text-decoration: none; border-radius: 4px">${label}</a></p>\n<p style="font-size: .9em; color: #555">{{link}}</p>`;

const BUILT_IN: Record<MailKind, Record<Language, Parts>> = {
  password_reset: {
    en: {
      subject: 'Reset your password',
      text: 'Hello {{username}},\n\nSomeone asked to reset the password of your account. To choose a new one, open this link within {{lifetime}}:\n\n{{link}}\n\nIf it was not you, ignore this mail: your password stays as it is.\n',
      html: layout('en', '<p>Hello {{username}},</p>\n<p>Someone asked to reset the password of your account. To choose a new one, open this link within {{lifetime}}:</p>\n' + button('Choose a new password') + '\n<p>If it was not you, ignore this mail: your password stays as it is.</p>'),
    },
    fr: {
      subject: 'Réinitialisez votre mot de passe',
      text: 'Bonjour {{username}},\n\nQuelqu’un a demandé à réinitialiser le mot de passe de votre compte. Pour en choisir un nouveau, ouvrez ce lien dans les {{lifetime}}\u00a0:\n\n{{link}}\n\nSi ce n’était pas vous, ignorez ce message\u00a0: votre mot de passe reste inchangé.\n',
      html: layout('fr', '<p>Bonjour {{username}},</p>\n<p>Quelqu’un a demandé à réinitialiser le mot de passe de votre compte. Pour en choisir un nouveau, ouvrez ce lien dans les {{lifetime}}\u00a0:</p>\n' + button('Choisir un nouveau mot de passe') + '\n<p>Si ce n’était pas vous, ignorez ce message\u00a0: votre mot de passe reste inchangé.</p>'),
    },
  },
  password_changed: {
    en: {
      subject: 'Your password was changed',
      text: 'Hello {{username}},\n\nThe password of your account was changed, and every device signed in with it was signed out.\n\nIf you did not do this, reset your password at once and tell your administrator.\n',
      html: layout('en', '<p>Hello {{username}},</p>\n<p>The password of your account was changed, and every device signed in with it was signed out.</p>\n<p>If you did not do this, reset your password at once and tell your administrator.</p>'),
    },
    fr: {
      subject: 'Votre mot de passe a été modifié',
      text: 'Bonjour {{username}},\n\nLe mot de passe de votre compte a été modifié, et chaque appareil connecté avec lui a été déconnecté.\n\nSi ce n’était pas vous, réinitialisez votre mot de passe sans attendre et prévenez votre administrateur.\n',
      html: layout('fr', '<p>Bonjour {{username}},</p>\n<p>Le mot de passe de votre compte a été modifié, et chaque appareil connecté avec lui a été déconnecté.</p>\n<p>Si ce n’était pas vous, réinitialisez votre mot de passe sans attendre et prévenez votre administrateur.</p>'),
    },
  },
  email_verify: {
    en: {
      subject: 'Confirm your email address',
      text: 'Hello {{username}},\n\nTo confirm that {{email}} is your address, open this link within {{lifetime}}:\n\n{{link}}\n',
      html: layout('en', '<p>Hello {{username}},</p>\n<p>To confirm that {{email}} is your address, open this link within {{lifetime}}:</p>\n' + button('Confirm my address')),
    },
    fr: {
      subject: 'Confirmez votre adresse électronique',
      text: 'Bonjour {{username}},\n\nPour confirmer que {{email}} est bien votre adresse, ouvrez ce lien dans les {{lifetime}}\u00a0:\n\n{{link}}\n',
      html: layout('fr', '<p>Bonjour {{username}},</p>\n<p>Pour confirmer que {{email}} est bien votre adresse, ouvrez ce lien dans les {{lifetime}}\u00a0:</p>\n' + button('Confirmer mon adresse')),
    },
  },
  // To the old address, without the new one (it may be why the address was changed) and without a link to undo it.
  email_changed: {
    en: {
      subject: 'Your email address was changed',
      text: 'Hello {{username}},\n\nThe email address of your account was changed: this address will no longer receive its mail.\n\nIf you did not ask for this, tell your administrator at once.\n',
      html: layout('en', '<p>Hello {{username}},</p>\n<p>The email address of your account was changed: this address will no longer receive its mail.</p>\n<p>If you did not ask for this, tell your administrator at once.</p>'),
    },
    fr: {
      subject: 'Votre adresse électronique a été modifiée',
      text: 'Bonjour {{username}},\n\nL’adresse électronique de votre compte a été modifiée\u00a0: cette adresse n’en recevra plus les messages.\n\nSi vous ne l’avez pas demandé, prévenez votre administrateur sans attendre.\n',
      html: layout('fr', '<p>Bonjour {{username}},</p>\n<p>L’adresse électronique de votre compte a été modifiée\u00a0: cette adresse n’en recevra plus les messages.</p>\n<p>Si vous ne l’avez pas demandé, prévenez votre administrateur sans attendre.</p>'),
    },
  },
};

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
const escapeHtml = (value: string) => value.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]!);

function fill(template: string, values: MailValues, escape: (value: string) => string): string {
  return template.replace(/\{\{\s*(\w+)\s*\}\}/g, (whole, name: string) => (name in values ? escape(values[name]!) : whole));
}

/**
 * Renders mails from the built-in templates, or from files in `directory` where
 * they exist (read once, at construction: a bad directory fails at start).
 * @example new MailTemplates(undefined).render('password_reset', 'fr', { username: 'ann', link, lifetime: '60 minutes' });
 */
export class MailTemplates {
  readonly #templates: Record<MailKind, Record<Language, Parts>>;

  constructor(directory: string | undefined) {
    if (directory !== undefined && !existsSync(directory)) throw new Error(`EMAIL_TEMPLATES_DIR: ${directory} does not exist`);
    const read = (file: string, fallback: string) => {
      if (directory === undefined) return fallback;
      const path = join(directory, file);
      return existsSync(path) ? readFileSync(path, 'utf8') : fallback;
    };
    const templates = {} as Record<MailKind, Record<Language, Parts>>;
    for (const kind of MAIL_KINDS) {
      const languages = {} as Record<Language, Parts>;
      for (const lang of ['en', 'fr'] as const) {
        const base = BUILT_IN[kind][lang];
        languages[lang] = {
          subject: read(`${kind}.${lang}.subject.txt`, base.subject).trim(),
          text: read(`${kind}.${lang}.txt`, base.text),
          html: read(`${kind}.${lang}.html`, base.html),
        };
      }
      templates[kind] = languages;
    }
    this.#templates = templates;
  }

  render(kind: MailKind, lang: Language, values: MailValues): RenderedMail {
    const parts = this.#templates[kind][lang];
    return {
      // A subject is one line whatever a value holds.
      subject: fill(parts.subject, values, (v) => v.replace(/[\r\n]+/g, ' ')),
      text: fill(parts.text, values, (v) => v),
      html: fill(parts.html, values, escapeHtml),
    };
  }
}

/** "60 minutes", "24 heures": a lifetime as the mail says it. */
export function describeLifetime(ms: number, lang: Language): string {
  const minutes = Math.round(ms / 60_000);
  const words = lang === 'fr' ? { m: ['minute', 'minutes'], h: ['heure', 'heures'], d: ['jour', 'jours'] } : { m: ['minute', 'minutes'], h: ['hour', 'hours'], d: ['day', 'days'] };
  const space = lang === 'fr' ? '\u00a0' : ' ';
  const say = (n: number, unit: 'm' | 'h' | 'd') => `${n}${space}${words[unit][n === 1 ? 0 : 1]}`;
  if (minutes % 1440 === 0 && minutes >= 1440) return say(minutes / 1440, 'd');
  if (minutes % 60 === 0 && minutes >= 120) return say(minutes / 60, 'h');
  return say(Math.max(1, minutes), 'm');
}
