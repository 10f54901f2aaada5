/**
 * Error messages in the client's language: English (the wire's own text) or French.
 * Messages are looked up by their English text, as gettext does; a message that
 * carries a value is matched against its template and the value carried over.
 */
import Negotiator from 'negotiator';
import { FR, FR_VALUES } from './fr.ts';

export type Language = 'en' | 'fr';

/** Preference order on a tie (`*`, or no usable header): English first. */
const LANGUAGES: readonly Language[] = ['en', 'fr'];

/**
 * The language to answer in, from an `Accept-Language` header; English by default.
 * @example negotiateLanguage('de, fr-CA;q=0.9') // 'fr'
 */
export function negotiateLanguage(acceptLanguage: string | undefined): Language {
  if (!acceptLanguage) return 'en';
  const chosen = new Negotiator({ headers: { 'accept-language': acceptLanguage } }).language(LANGUAGES);
  return chosen === 'fr' ? 'fr' : 'en';
}

interface Template {
  pattern: RegExp;
  names: string[];
  target: string;
}

interface Catalog {
  exact: ReadonlyMap<string, string>;
  templates: readonly Template[];
  /** Placeholder → (English value → translation); Maps, since values may come from the client. */
  values: ReadonlyMap<string, ReadonlyMap<string, string>>;
}

const PLACEHOLDER = /\{(\w+)\}/g;

function compile(messages: Readonly<Record<string, string>>, values: Readonly<Record<string, Readonly<Record<string, string>>>>): Catalog {
  const exact = new Map<string, string>();
  const templates: Array<Template & { literal: number }> = [];
  for (const [source, target] of Object.entries(messages)) {
    const names = [...source.matchAll(PLACEHOLDER)].map((match) => match[1]!);
    if (names.length === 0) {
      exact.set(source, target);
      continue;
    }
    const body = source
      .split(PLACEHOLDER)
      .map((piece, index) => (index % 2 === 1 ? '([\\s\\S]*?)' : piece.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
      .join('');
    templates.push({ pattern: new RegExp(`^${body}$`), names, target, literal: source.replace(PLACEHOLDER, '').length });
  }
  // The most specific template wins when two could match.
  templates.sort((a, b) => b.literal - a.literal);
  return { exact, templates, values: new Map(Object.entries(values).map(([name, words]) => [name, new Map(Object.entries(words))])) };
}

const CATALOGS: Record<Exclude<Language, 'en'>, Catalog> = { fr: compile(FR, FR_VALUES) };

/**
 * The message in `language`; a message the catalog does not know is returned unchanged.
 * @example translate('Ensure this field has no more than 150 characters.', 'fr') // 'Assurez-vous que ce champ comporte au plus 150 caractères.'
 */
export function translate(message: string, language: Language): string {
  if (language === 'en') return message;
  const catalog = CATALOGS[language];
  const exact = catalog.exact.get(message);
  if (exact !== undefined) return exact;
  for (const { pattern, names, target } of catalog.templates) {
    const match = pattern.exec(message);
    if (!match) continue;
    const found = new Map(names.map((name, index) => [name, match[index + 1] ?? '']));
    return target.replace(PLACEHOLDER, (_, name: string) => {
      const value = found.get(name) ?? '';
      return catalog.values.get(name)?.get(value) ?? value;
    });
  }
  return message;
}

/**
 * A DRF field-error body with every message translated.
 * @example translateFields({ password: ['This field is required.'] }, 'fr') // { password: ['Ce champ est obligatoire.'] }
 */
export function translateFields(fields: Readonly<Record<string, readonly string[]>>, language: Language): Record<string, string[]> {
  return Object.fromEntries(Object.entries(fields).map(([field, messages]) => [field, messages.map((message) => translate(message, language))]));
}
