// /account/: who is signed in, links to each part of the account, and sign out.
import { $, accountUrl, client, h, show, strings } from './page.js';

const t = strings({
  en: {
    title: 'Your account',
    signedInAs: 'Signed in as {name}',
    security: 'Two-step verification',
    securityHint: 'An authenticator app and recovery codes.',
    passkeys: 'Passkeys',
    passkeysHint: 'Sign in with your device instead of a password.',
    sessions: 'Devices and sessions',
    sessionsHint: 'Where your account is signed in; sign out of any of them.',
    signOut: 'Sign out',
  },
  fr: {
    title: 'Votre compte',
    signedInAs: 'Connecté en tant que {name}',
    security: 'Vérification en deux étapes',
    securityHint: 'Une application d’authentification et des codes de secours.',
    passkeys: 'Clés d’accès',
    passkeysHint: 'Connectez-vous avec votre appareil plutôt qu’avec un mot de passe.',
    sessions: 'Appareils et sessions',
    sessionsHint: 'Où votre compte est connecté\u00a0; déconnectez l’un d’eux.',
    signOut: 'Se déconnecter',
  },
});

const section = (path, name, hint) => h('li', {}, h('a', { href: accountUrl(path), textContent: name }), h('span', { className: 'hint', textContent: hint }));

/** The overview for `user` (the PublicUser), in the element `view`. */
export function overview(view, user) {
  $('title').textContent = t.title;
  const signOut = h('button', { type: 'button', id: 'sign-out', textContent: t.signOut });
  signOut.addEventListener('click', async () => {
    await client.logout();
    location.assign(accountUrl());
  });
  show(view, [
    h('h2', { textContent: t.signedInAs.replace('{name}', user.username) }),
    h('p', { className: 'hint', textContent: user.email }),
    h('ul', { className: 'sections' },
      section('security/', t.security, t.securityHint),
      // The passkeys page (its own module) lives at /account/passkeys/.
      section('passkeys/', t.passkeys, t.passkeysHint),
      section('sessions/', t.sessions, t.sessionsHint)),
    signOut,
  ]);
}
