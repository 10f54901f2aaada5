// /account/sessions/: the devices signed in to the account, this one marked;
// end one, end all the others (each ended by id), or sign out everywhere
// (POST /auth/logout-all/, which ends this one too, SPEC §3).
import { accountUrl, client, h, problem, say, settings, show, strings, when } from './page.js';

const t = strings({
  en: {
    title: 'Devices and sessions',
    heading: { one: 'Signed in on one device', other: 'Signed in on {count} devices' },
    intro: 'End any session you do not recognise.',
    thisDevice: 'This device',
    unknownDevice: 'Unknown device',
    on: '{browser} on {os}',
    started: 'Signed in {date}',
    lastUsed: 'last active {date}',
    from: 'from {ip}',
    end: 'End',
    endLabel: 'End the session of {device}, signed in {date}',
    ended: 'The session was ended.',
    endOthers: 'End all other sessions',
    othersEnded: 'Every other session was ended.',
    none: 'No other device is signed in.',
    everywhere: 'Sign out everywhere, this device too',
    back: 'Back to your account',
    failed: 'Something went wrong: {detail}',
  },
  fr: {
    title: 'Appareils et sessions',
    heading: { one: 'Connecté sur un appareil', other: 'Connecté sur {count} appareils' },
    intro: 'Fermez toute session que vous ne reconnaissez pas.',
    thisDevice: 'Cet appareil',
    unknownDevice: 'Appareil inconnu',
    on: '{browser} sur {os}',
    started: 'Connecté le {date}',
    lastUsed: 'actif pour la dernière fois le {date}',
    from: 'depuis {ip}',
    end: 'Fermer',
    endLabel: 'Fermer la session de {device}, connectée le {date}',
    ended: 'La session a été fermée.',
    endOthers: 'Fermer toutes les autres sessions',
    othersEnded: 'Toutes les autres sessions ont été fermées.',
    none: 'Aucun autre appareil n’est connecté.',
    everywhere: 'Se déconnecter partout, cet appareil compris',
    back: 'Retour à votre compte',
    failed: 'Une erreur est survenue\u00a0: {detail}',
  },
});

const failed = (error) => problem(error, t.failed);

const BROWSERS = [[/Edg\//, 'Edge'], [/OPR\//, 'Opera'], [/Firefox\//, 'Firefox'], [/Chrom(e|ium)\//, 'Chrome'], [/Safari\//, 'Safari'], [/curl\//, 'curl'], [/node|undici/i, 'Node.js']];
const SYSTEMS = [[/Windows/, 'Windows'], [/Android/, 'Android'], [/iPhone|iPad/, 'iOS'], [/Mac OS X|Macintosh/, 'macOS'], [/CrOS/, 'ChromeOS'], [/Linux/, 'Linux']];

/** A person's name for a User-Agent: "Chrome on Linux"; the raw string when neither part is known. */
function deviceName(userAgent) {
  if (!userAgent) return t.unknownDevice;
  const browser = BROWSERS.find(([pattern]) => pattern.test(userAgent))?.[1];
  const os = SYSTEMS.find(([pattern]) => pattern.test(userAgent))?.[1];
  if (browser && os) return t.on.replace('{browser}', browser).replace('{os}', os);
  return browser ?? os ?? userAgent.slice(0, 60);
}

/** The list of sessions in `view`; `message` is said once it is drawn. */
export async function sessions(view, message = '') {
  document.getElementById('title').textContent = t.title;
  const list = await client.sessions();
  // This device first, then the most recently used.
  list.sort((a, b) => Number(b.current) - Number(a.current) || b.last_used_at.localeCompare(a.last_used_at));
  const others = list.filter((session) => !session.current);

  const items = list.map((session) => {
    const device = deviceName(session.user_agent);
    const details = [t.started.replace('{date}', when(session.created_at)), t.lastUsed.replace('{date}', when(session.last_used_at)), session.ip ? t.from.replace('{ip}', session.ip) : null].filter(Boolean).join(', ');
    const item = h('li', { className: session.current ? 'session current' : 'session', 'data-session': session.id },
      h('div', {},
        h('strong', { textContent: device }),
        session.current ? h('span', { className: 'badge', textContent: t.thisDevice }) : null,
        h('div', { className: 'hint', textContent: details })));
    if (!session.current) {
      const end = h('button', { type: 'button', className: 'secondary', textContent: t.end, 'aria-label': t.endLabel.replace('{device}', device).replace('{date}', when(session.created_at)) });
      end.addEventListener('click', async () => {
        end.disabled = true;
        try {
          await client.endSession(session.id);
          await sessions(view, t.ended);
        } catch (error) {
          end.disabled = false;
          failed(error);
        }
      });
      item.append(end);
    }
    return item;
  });

  const endOthers = h('button', { type: 'button', id: 'end-others', textContent: t.endOthers, disabled: others.length === 0 });
  endOthers.addEventListener('click', async () => {
    endOthers.disabled = true;
    try {
      for (const session of others) await client.endSession(session.id);
      await sessions(view, t.othersEnded);
    } catch (error) {
      endOthers.disabled = false;
      failed(error);
    }
  });
  const everywhere = h('button', { type: 'button', id: 'sign-out-everywhere', className: 'danger', textContent: t.everywhere });
  everywhere.addEventListener('click', async () => {
    everywhere.disabled = true;
    try {
      await client.logoutAll();
    } finally {
      location.assign(accountUrl());
    }
  });

  show(view, [
    h('h2', { textContent: t.heading[new Intl.PluralRules(settings.lang).select(list.length)]?.replace('{count}', String(list.length)) ?? t.heading.other.replace('{count}', String(list.length)) }),
    h('p', { textContent: t.intro }),
    h('ul', { id: 'sessions', className: 'sessions' }, ...items),
    others.length === 0 ? h('p', { className: 'hint', textContent: t.none }) : null,
    h('div', { className: 'actions' }, endOthers, everywhere),
    h('p', { className: 'back' }, h('a', { href: accountUrl(), textContent: t.back })),
  ].filter(Boolean));
  say(message, message ? 'ok' : '');
}
