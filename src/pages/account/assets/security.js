// /account/security/: the TOTP factor (SPEC §12). Enrolment behind the
// password, its QR code drawn here from the otpauth URL (the secret never
// leaves the page in a URL), confirmation with the first code, the ten
// recovery codes shown once with a Print button, new codes and removal, each
// with a current code.
import qrcode from './qrcode.js';
import { accountUrl, client, field, h, problem, say, show, strings, submitting, when } from './page.js';

const t = strings({
  en: {
    title: 'Two-step verification',
    on: 'Two-step verification is on',
    onSince: 'An authenticator app protects your account since {date}.',
    remaining: 'Recovery codes left: {count}.',
    off: 'Two-step verification is off',
    offIntro: 'With an authenticator app, a stolen password is not enough to enter your account.',
    password: 'Your password',
    start: 'Set up an authenticator app',
    scanTitle: 'Scan this QR code',
    scanIntro: 'Open your authenticator app, add an account and scan the code.',
    qrLabel: 'QR code for your authenticator app',
    manual: 'Or type this key into the app:',
    code: 'Code from the app',
    confirm: 'Turn on',
    codesTitle: 'Your recovery codes',
    codesIntro: 'If you lose your phone, each of these codes signs you in once. Keep them somewhere safe: they are shown only now.',
    print: 'Print',
    saved: 'I have saved them',
    enabled: 'Two-step verification is on.',
    regenerateTitle: 'New recovery codes',
    regenerateIntro: 'The codes you have now stop working.',
    regenerate: 'Get new codes',
    disableTitle: 'Turn off two-step verification',
    disableIntro: 'Your recovery codes stop working and your other devices are signed out.',
    disable: 'Turn off',
    disabled: 'Two-step verification is off.',
    back: 'Back to your account',
    failed: 'Something went wrong: {detail}',
  },
  fr: {
    title: 'Vérification en deux étapes',
    on: 'La vérification en deux étapes est activée',
    onSince: 'Une application d’authentification protège votre compte depuis le {date}.',
    remaining: 'Codes de secours restants\u00a0: {count}.',
    off: 'La vérification en deux étapes est désactivée',
    offIntro: 'Avec une application d’authentification, un mot de passe volé ne suffit pas pour entrer dans votre compte.',
    password: 'Votre mot de passe',
    start: 'Configurer une application d’authentification',
    scanTitle: 'Scannez ce code QR',
    scanIntro: 'Ouvrez votre application d’authentification, ajoutez un compte et scannez le code.',
    qrLabel: 'Code QR pour votre application d’authentification',
    manual: 'Ou saisissez cette clé dans l’application\u00a0:',
    code: 'Code de l’application',
    confirm: 'Activer',
    codesTitle: 'Vos codes de secours',
    codesIntro: 'Si vous perdez votre téléphone, chacun de ces codes vous connecte une fois. Conservez-les en lieu sûr\u00a0: ils ne sont affichés que maintenant.',
    print: 'Imprimer',
    saved: 'Je les ai conservés',
    enabled: 'La vérification en deux étapes est activée.',
    regenerateTitle: 'Nouveaux codes de secours',
    regenerateIntro: 'Les codes que vous avez ne fonctionneront plus.',
    regenerate: 'Obtenir de nouveaux codes',
    disableTitle: 'Désactiver la vérification en deux étapes',
    disableIntro: 'Vos codes de secours ne fonctionneront plus et vos autres appareils seront déconnectés.',
    disable: 'Désactiver',
    disabled: 'La vérification en deux étapes est désactivée.',
    back: 'Retour à votre compte',
    failed: 'Une erreur est survenue\u00a0: {detail}',
  },
});

const failed = (error) => problem(error, t.failed);
const back = () => h('p', { className: 'back' }, h('a', { href: accountUrl(), textContent: t.back }));
const codeInput = (name = 'code') => ({ name, autocomplete: 'one-time-code', inputmode: 'numeric', pattern: '[0-9 ]*', maxLength: 8, required: true });
const digits = (form) => String(new FormData(form).get('code')).replace(/\s+/g, '');

/** A form that runs `work(form)` on submit, its buttons disabled meanwhile. */
function form(id, children, work) {
  const element = h('form', { id }, ...children);
  element.addEventListener('submit', (event) => {
    event.preventDefault();
    say('');
    void submitting(element, () => work(element), failed);
  });
  return element;
}

/** The QR code of `text` as inline SVG: dark modules as one path, a four-module quiet zone. */
export function qrSvg(text, label) {
  const qr = qrcode(0, 'M');
  qr.addData(text);
  qr.make();
  const count = qr.getModuleCount();
  let d = '';
  for (let row = 0; row < count; row += 1) for (let col = 0; col < count; col += 1) if (qr.isDark(row, col)) d += `M${col + 4} ${row + 4}h1v1h-1z`;
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  const size = count + 8;
  for (const [name, value] of Object.entries({ viewBox: `0 0 ${size} ${size}`, role: 'img', 'aria-label': label, 'shape-rendering': 'crispEdges', class: 'qr' })) svg.setAttribute(name, value);
  const background = document.createElementNS(ns, 'rect');
  for (const [name, value] of Object.entries({ width: size, height: size, fill: '#fff' })) background.setAttribute(name, String(value));
  const path = document.createElementNS(ns, 'path');
  path.setAttribute('d', d);
  path.setAttribute('fill', '#000');
  svg.append(background, path);
  return svg;
}

/** The TOTP status and what can be done from it, in `view`. */
export async function security(view) {
  document.getElementById('title').textContent = t.title;
  const status = await client.mfaStatus();
  if (!status.totp.enabled) {
    return show(view, [
      h('h2', { textContent: t.off }),
      h('p', { textContent: t.offIntro }),
      form('totp-start', [field(t.password, { name: 'password', type: 'password', autocomplete: 'current-password', required: true }), h('button', { type: 'submit', textContent: t.start })],
        async (element) => enrol(view, await client.startTotp(String(new FormData(element).get('password'))))),
      back(),
    ]);
  }
  show(view, [
    h('h2', { textContent: t.on }),
    h('p', { textContent: `${status.totp.created_at ? t.onSince.replace('{date}', when(status.totp.created_at)) : ''} ${t.remaining.replace('{count}', String(status.recovery_codes_remaining))}`.trim() }),
    form('regenerate', [h('h3', { textContent: t.regenerateTitle }), h('p', { textContent: t.regenerateIntro }), field(t.code, codeInput()), h('button', { type: 'submit', textContent: t.regenerate })],
      async (element) => recoveryCodes(view, await client.regenerateRecoveryCodes(digits(element)))),
    form('disable', [h('h3', { textContent: t.disableTitle }), h('p', { textContent: t.disableIntro }), field(t.code, codeInput()), h('button', { type: 'submit', className: 'danger', textContent: t.disable })],
      async (element) => {
        await client.disableTotp(digits(element));
        await security(view);
        say(t.disabled, 'ok');
      }),
    back(),
  ]);
}

/** Step two of enrolment: the QR code and the key, then the first code. */
function enrol(view, enrollment) {
  const key = enrollment.secret.replace(/(.{4})(?=.)/g, '$1 ');
  show(view, [
    h('h2', { textContent: t.scanTitle }),
    h('p', { textContent: t.scanIntro }),
    h('figure', {}, qrSvg(enrollment.otpauth_url, t.qrLabel)),
    h('p', { textContent: t.manual }),
    h('p', {}, h('code', { id: 'totp-secret', className: 'secret', textContent: key })),
    form('totp-confirm', [field(t.code, codeInput()), h('button', { type: 'submit', textContent: t.confirm })],
      async (element) => recoveryCodes(view, await client.confirmTotp(digits(element)), t.enabled)),
    back(),
  ]);
}

/** The ten codes, shown once; printing shows only them (account.css). */
function recoveryCodes(view, codes, message = '') {
  const print = h('button', { type: 'button', id: 'print-codes', textContent: t.print });
  print.addEventListener('click', () => window.print());
  const saved = h('button', { type: 'button', id: 'codes-saved', className: 'secondary', textContent: t.saved });
  saved.addEventListener('click', () => void security(view).catch(failed));
  show(view, [
    h('section', { className: 'codes' },
      h('h2', { textContent: t.codesTitle }),
      h('p', { textContent: t.codesIntro }),
      h('ol', { id: 'recovery-codes' }, ...codes.map((code) => h('li', {}, h('code', { textContent: code })))),
      h('div', { className: 'actions' }, print, saved)),
  ]);
  say(message, message ? 'ok' : '');
}
