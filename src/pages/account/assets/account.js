// Latchkey's account pages (SPEC §13), and the router between them: forgot
// password, a new password from a reset link, confirming an address; signed
// in, the overview, security (TOTP) and sessions, each view in its own module.
// They use only the public API, through latchkey/client. Nothing here runs on
// load that uses a link: a mail scanner that opens it changes nothing (SPEC
// §11); the user's click does.
import { LatchkeyError } from '../latchkey-client.js';
import { client, settings } from './page.js';
import { overview } from './overview.js';
import { security } from './security.js';
import { sessions } from './sessions.js';
import { signIn } from './signin.js';

const TEXT = {
  en: {
    forgotTitle: 'Forgot your password?',
    forgotIntro: 'Enter the address of your account: we will mail you a link to choose a new password.',
    email: 'Email address',
    sendLink: 'Send me a link',
    sent: 'If an account uses this address, a link is on its way. Check your mail.',
    resetTitle: 'Choose a new password',
    resetIntro: 'Every device signed in to your account will be signed out.',
    newPassword: 'New password',
    repeatPassword: 'New password again',
    setPassword: 'Set my password',
    mismatch: 'The two passwords differ.',
    changed: 'Your password was changed. Sign in with it.',
    badLink: 'This link is no longer valid. Ask for a new one.',
    verifyTitle: 'Confirm your email address',
    verifyIntro: 'One click and your address is confirmed.',
    confirmAddress: 'Confirm my address',
    verified: 'Your address is confirmed.',
    alreadyVerified: 'Your address was already confirmed.',
    username: 'Username or email',
    password: 'Password',
    signIn: 'Sign in',
    signedIn: 'Signed in as {name}.',
    failed: 'Something went wrong: {detail}',
  },
  fr: {
    forgotTitle: 'Mot de passe oublié\u00a0?',
    forgotIntro: 'Saisissez l’adresse de votre compte\u00a0: nous vous enverrons un lien pour choisir un nouveau mot de passe.',
    email: 'Adresse électronique',
    sendLink: 'Envoyez-moi un lien',
    sent: 'Si un compte utilise cette adresse, un lien est en route. Consultez votre messagerie.',
    resetTitle: 'Choisissez un nouveau mot de passe',
    resetIntro: 'Chaque appareil connecté à votre compte sera déconnecté.',
    newPassword: 'Nouveau mot de passe',
    repeatPassword: 'Nouveau mot de passe, à nouveau',
    setPassword: 'Enregistrer mon mot de passe',
    mismatch: 'Les deux mots de passe diffèrent.',
    changed: 'Votre mot de passe a été modifié. Connectez-vous avec lui.',
    badLink: 'Ce lien n’est plus valable. Demandez-en un nouveau.',
    verifyTitle: 'Confirmez votre adresse électronique',
    verifyIntro: 'Un clic et votre adresse est confirmée.',
    confirmAddress: 'Confirmer mon adresse',
    verified: 'Votre adresse est confirmée.',
    alreadyVerified: 'Votre adresse était déjà confirmée.',
    username: 'Nom d’utilisateur ou adresse',
    password: 'Mot de passe',
    signIn: 'Se connecter',
    signedIn: 'Connecté en tant que {name}.',
    failed: 'Une erreur est survenue\u00a0: {detail}',
  },
};
const t = TEXT[settings.lang] ?? TEXT.en;
const $ = (id) => document.getElementById(id);
for (const element of document.querySelectorAll('[data-text]')) element.textContent = t[element.dataset.text];

function say(message, kind = '') {
  $('status').textContent = message;
  $('status').className = kind;
}

function failure(error) {
  if (error instanceof LatchkeyError && error.body && typeof error.body === 'object') {
    const body = error.body;
    if (body.token || body.uid) return say(t.badLink, 'error');
    const messages = [...(body.new_password ?? []), ...(body.non_field_errors ?? []), ...(body.email ?? [])];
    if (messages.length > 0) {
      $('problems').replaceChildren(...messages.map((m) => Object.assign(document.createElement('li'), { textContent: m })));
      return say('');
    }
  }
  say(t.failed.replace('{detail}', error instanceof Error ? error.message : String(error)), 'error');
}

function busy(form, on) {
  for (const button of form.querySelectorAll('button')) button.disabled = on;
}

function showSignIn() {
  signIn((body) => say(t.signedIn.replace('{name}', body.user.username), 'ok'));
}

/** The signed-in pages: the view of `page`, after a sign-in when there is no session (or it has ended). */
const VIEWS = { home: (view, user) => overview(view, user), security: (view) => security(view), sessions: (view) => sessions(view) };

async function signedInPage(page) {
  const view = $('view');
  document.querySelector('main').classList.add('wide');
  const open = (user) => Promise.resolve().then(() => VIEWS[page](view, user)).catch(failure);
  let user = null;
  try {
    user = await client.me();
  } catch (error) {
    if (!(error instanceof LatchkeyError) || error.status !== 401) return failure(error);
  }
  if (user) return open(user);
  signIn(async (body) => open(body.user ?? (await client.me())), { title: true });
}

if (settings.page === 'forgot') {
  $('title').textContent = t.forgotTitle;
  $('intro').textContent = t.forgotIntro;
  $('forgot').hidden = false;
  $('forgot').addEventListener('submit', async (event) => {
    event.preventDefault();
    busy($('forgot'), true);
    try {
      await client.requestPasswordReset(String(new FormData($('forgot')).get('email')));
      $('forgot').hidden = true;
      say(t.sent, 'ok');
    } catch (error) {
      failure(error);
    } finally {
      busy($('forgot'), false);
    }
  });
} else if (settings.page === 'reset') {
  $('title').textContent = t.resetTitle;
  $('intro').textContent = t.resetIntro;
  $('reset').hidden = false;
  // Checking the link uses nothing (validate), so a bad link is said before anyone types.
  client.validatePasswordReset(settings.uid, settings.token).catch(failure);
  $('reset').addEventListener('submit', async (event) => {
    event.preventDefault();
    const form = new FormData($('reset'));
    const password = String(form.get('new_password'));
    $('problems').replaceChildren();
    if (password !== String(form.get('re_new_password'))) return say(t.mismatch, 'error');
    busy($('reset'), true);
    try {
      await client.confirmPasswordReset(settings.uid, settings.token, password);
      $('reset').hidden = true;
      say(t.changed, 'ok');
      showSignIn();
    } catch (error) {
      failure(error);
    } finally {
      busy($('reset'), false);
    }
  });
} else if (settings.page in VIEWS) {
  void signedInPage(settings.page);
} else if (settings.page === 'verify') {
  $('title').textContent = t.verifyTitle;
  $('intro').textContent = t.verifyIntro;
  $('verify').hidden = false;
  $('verify').addEventListener('submit', async (event) => {
    event.preventDefault();
    busy($('verify'), true);
    try {
      await client.verifyEmail(settings.uid, settings.token);
      $('verify').hidden = true;
      say(t.verified, 'ok');
    } catch (error) {
      if (error instanceof LatchkeyError && error.code === 'stale_token') {
        $('verify').hidden = true;
        return say(t.alreadyVerified, 'ok');
      }
      failure(error);
    } finally {
      busy($('verify'), false);
    }
  });
}
