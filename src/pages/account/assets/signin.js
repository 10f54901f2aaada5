// Sign-in: the username (or email) and password form of index.html, then, when
// the server answers `mfa_required`, a second step asking for a code from the
// authenticator app or one of the recovery codes (SPEC §12).
import { MfaRequiredError } from '../latchkey-client.js';
import { $, client, field, h, problem, say, settings, strings, submitting } from './page.js';

const t = strings({
  en: {
    title: 'Sign in',
    stepTitle: 'Two-step verification',
    stepIntro: 'Enter the 6-digit code your authenticator app shows for this account.',
    code: 'Code from the app',
    recoveryIntro: 'Enter one of the recovery codes you saved. Each works once.',
    recoveryCode: 'Recovery code',
    verify: 'Verify',
    useRecovery: 'Use a recovery code instead',
    useApp: 'Use the authenticator app instead',
    expired: 'This sign-in took too long. Enter your password again.',
    burnt: 'Too many wrong codes. Enter your password again.',
    attemptsLeft: { one: 'One attempt left.', other: '{count} attempts left.' },
    failed: 'Something went wrong: {detail}',
  },
  fr: {
    title: 'Connexion',
    stepTitle: 'Vérification en deux étapes',
    stepIntro: 'Saisissez le code à 6 chiffres que votre application d’authentification affiche pour ce compte.',
    code: 'Code de l’application',
    recoveryIntro: 'Saisissez l’un des codes de secours que vous avez conservés. Chacun ne sert qu’une fois.',
    recoveryCode: 'Code de secours',
    verify: 'Vérifier',
    useRecovery: 'Utiliser plutôt un code de secours',
    useApp: 'Utiliser plutôt l’application d’authentification',
    expired: 'Cette connexion a pris trop de temps. Saisissez de nouveau votre mot de passe.',
    burnt: 'Trop de codes erronés. Saisissez de nouveau votre mot de passe.',
    attemptsLeft: { one: 'Encore un essai.', other: 'Encore {count} essais.' },
    failed: 'Une erreur est survenue\u00a0: {detail}',
  },
});

const failed = (error) => problem(error, t.failed);

/**
 * Shows the sign-in form; `onSignedIn(loginBody)` runs once the user is in,
 * after one step or two. `title` also sets the page's heading.
 */
export function signIn(onSignedIn, { title = false } = {}) {
  const form = $('signin');
  if (title) $('title').textContent = t.title;
  form.hidden = false;
  form.querySelector('input[name="username"]').focus();
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    await submitting(form, async () => {
      try {
        const body = await client.login(String(data.get('username')), String(data.get('password')));
        form.hidden = true;
        say('');
        onSignedIn(body);
      } catch (error) {
        if (!(error instanceof MfaRequiredError)) throw error;
        form.hidden = true;
        say('');
        secondStep(error, onSignedIn);
      }
    }, failed);
  });
}

/** The second step, in a form placed after the sign-in form; `recovery` switches to a recovery code. */
function secondStep(challenge, onSignedIn, recovery = false) {
  $('second-step')?.remove();
  const canUseApp = challenge.methods.includes('totp');
  const byRecovery = recovery || !canUseApp;
  const input = byRecovery
    ? { name: 'recovery_code', autocomplete: 'off', spellcheck: false, required: true, maxLength: 64 }
    : { name: 'code', autocomplete: 'one-time-code', inputmode: 'numeric', pattern: '[0-9 ]*', required: true, maxLength: 8 };
  const other = byRecovery ? (canUseApp ? t.useApp : null) : challenge.methods.includes('recovery_code') ? t.useRecovery : null;
  const form = h('form', { id: 'second-step' },
    h('h2', { textContent: t.stepTitle }),
    h('p', { textContent: byRecovery ? t.recoveryIntro : t.stepIntro }),
    field(byRecovery ? t.recoveryCode : t.code, input),
    h('div', { className: 'actions' },
      h('button', { type: 'submit', textContent: t.verify }),
      other && h('button', { type: 'button', className: 'link', id: 'switch-method', textContent: other })));
  $('signin').after(form);
  form.querySelector('input').focus();
  form.querySelector('#switch-method')?.addEventListener('click', () => secondStep(challenge, onSignedIn, !byRecovery));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const value = String(new FormData(form).get(input.name)).replace(/\s+/g, '');
    await submitting(form, async () => {
      const body = await client.verifyMfa(byRecovery ? { mfaToken: challenge.mfaToken, recoveryCode: value } : { mfaToken: challenge.mfaToken, code: value });
      form.remove();
      say('');
      onSignedIn(body);
    }, (error) => {
      // The mfa_token is gone (expired, used, or burnt by wrong codes): back to the password.
      const left = error?.body?.attempts_left;
      if (error?.code === 'mfa_token_invalid' || left === 0) {
        form.remove();
        $('signin').hidden = false;
        $('signin').querySelector('input[name="password"]').value = '';
        $('signin').querySelector('input[name="password"]').focus();
        return say(left === 0 ? t.burnt : t.expired, 'error');
      }
      if (error?.code === 'mfa_code_invalid' && typeof left === 'number') {
        const phrase = t.attemptsLeft[new Intl.PluralRules(settings.lang).select(left)] ?? t.attemptsLeft.other;
        say(`${error.detail} ${phrase.replace('{count}', String(left))}`, 'error');
      } else failed(error);
      form.querySelector('input').select();
      form.querySelector('input').focus();
    });
  });
}
