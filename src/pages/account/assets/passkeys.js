// Passkeys on the account pages (SPEC §12, §13): /account/passkeys/ lists the
// signed-in user's passkeys, adds one under a name, renames and removes them;
// the sign-in form gains "Sign in with a passkey" (and the browser's autofill,
// autocomplete="username webauthn"), and a passkey as the second step after
// the password. Only latchkey/client; its own English and French text.
import { LatchkeyError, Passkeys } from '../latchkey-client.js';

const TEXT = {
  en: {
    title: 'Passkeys',
    intro: 'A passkey signs you in with your device’s screen lock or a security key, without a password. It also counts as a second factor.',
    signInFirst: 'Sign in to manage your passkeys.',
    signInPasskey: 'Sign in with a passkey',
    usePasskey: 'Use a passkey',
    secondStep: 'Your account asks for a second step: use one of your passkeys.',
    none: 'You have no passkey yet.',
    name: 'Name of the new passkey',
    namePlaceholder: 'e.g. Work laptop',
    add: 'Add a passkey',
    added: 'Passkey “{name}” added.',
    rename: 'Rename',
    save: 'Save',
    cancel: 'Cancel',
    remove: 'Remove',
    removed: 'Passkey “{name}” removed.',
    renamed: 'Passkey renamed to “{name}”.',
    confirmRemove: 'Remove the passkey “{name}”? Devices signed in with it will be signed out.',
    created: 'Added {date}',
    lastUsed: 'last used {date}',
    neverUsed: 'never used',
    synced: 'synced',
    deviceBound: 'this device only',
    signOut: 'Sign out',
    signedOut: 'You are signed out.',
    signedIn: 'Signed in as {name}.',
    unsupported: 'This browser cannot use passkeys.',
    cancelled: 'No passkey was used.',
    failed: 'Something went wrong: {detail}',
  },
  fr: {
    title: 'Clés d’accès',
    intro: 'Une clé d’accès vous connecte avec le verrouillage d’écran de votre appareil ou une clé de sécurité, sans mot de passe. Elle compte aussi comme second facteur.',
    signInFirst: 'Connectez-vous pour gérer vos clés d’accès.',
    signInPasskey: 'Se connecter avec une clé d’accès',
    usePasskey: 'Utiliser une clé d’accès',
    secondStep: 'Votre compte demande une seconde étape\u00a0: utilisez l’une de vos clés d’accès.',
    none: 'Vous n’avez pas encore de clé d’accès.',
    name: 'Nom de la nouvelle clé',
    namePlaceholder: 'p. ex. Ordinateur du bureau',
    add: 'Ajouter une clé d’accès',
    added: 'Clé d’accès «\u00a0{name}\u00a0» ajoutée.',
    rename: 'Renommer',
    save: 'Enregistrer',
    cancel: 'Annuler',
    remove: 'Supprimer',
    removed: 'Clé d’accès «\u00a0{name}\u00a0» supprimée.',
    renamed: 'Clé d’accès renommée en «\u00a0{name}\u00a0».',
    confirmRemove: 'Supprimer la clé d’accès «\u00a0{name}\u00a0»\u00a0? Les appareils connectés avec elle seront déconnectés.',
    created: 'Ajoutée le {date}',
    lastUsed: 'dernière utilisation le {date}',
    neverUsed: 'jamais utilisée',
    synced: 'synchronisée',
    deviceBound: 'cet appareil seulement',
    signOut: 'Se déconnecter',
    signedOut: 'Vous êtes déconnecté.',
    signedIn: 'Connecté en tant que {name}.',
    unsupported: 'Ce navigateur ne sait pas utiliser les clés d’accès.',
    cancelled: 'Aucune clé d’accès n’a été utilisée.',
    failed: 'Une erreur est survenue\u00a0: {detail}',
  },
};

const $ = (id) => document.getElementById(id);
const el = (tag, props = {}, ...children) => {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
};

function say(message, kind = '') {
  $('status').textContent = message;
  $('status').className = kind;
}

/** The browser's "the user closed the dialog" and "another ceremony took over" are not errors to show as such. */
function dismissed(error) {
  return typeof error?.name === 'string' && (error.name === 'NotAllowedError' || error.name === 'AbortError');
}

/**
 * Adds "Sign in with a passkey" to the sign-in form, offers passkeys from the
 * username field's autofill where the browser can, and answers `mfa_required`
 * after the password with a passkey. `onSignedIn(body)` runs after either.
 */
export function passkeySignIn(client, { lang, onSignedIn }) {
  const t = TEXT[lang] ?? TEXT.en;
  const form = $('signin');
  if (!Passkeys.supported() || form.querySelector('#signin-passkey')) return;
  let autofill;
  const startAutofill = async () => {
    if (!(await Passkeys.autofillAvailable())) return;
    autofill = new window.AbortController();
    client.passkeys.login({ conditional: true, signal: autofill.signal }).then(onSignedIn, (error) => {
      if (!dismissed(error)) say(t.failed.replace('{detail}', error.message), 'error');
    });
  };
  const stopAutofill = () => autofill?.abort();
  const button = el('button', { type: 'button', id: 'signin-passkey', className: 'secondary', textContent: t.signInPasskey });
  button.addEventListener('click', async () => {
    stopAutofill();
    button.disabled = true;
    try {
      onSignedIn(await client.passkeys.login());
    } catch (error) {
      say(dismissed(error) ? t.cancelled : t.failed.replace('{detail}', error.message), 'error');
      startAutofill();
    } finally {
      button.disabled = false;
    }
  });
  form.append(button);
  startAutofill();
  return { stopAutofill };
}

/** After `401 mfa_required` with `webauthn` among the methods: a button for the passkey step. */
export function passkeySecondStep(client, error, { lang, onSignedIn }) {
  const t = TEXT[lang] ?? TEXT.en;
  if (!(error instanceof LatchkeyError) || error.code !== 'mfa_required' || !error.body.mfa_methods?.includes('webauthn')) return false;
  const step = el('div', { id: 'passkey-step' }, el('p', { textContent: t.secondStep }));
  const button = el('button', { type: 'button', id: 'passkey-step-button', textContent: t.usePasskey });
  button.addEventListener('click', async () => {
    button.disabled = true;
    try {
      const body = await client.passkeys.verifyMfa(error.body.mfa_token);
      step.remove();
      onSignedIn(body);
    } catch (failure) {
      say(dismissed(failure) ? t.cancelled : t.failed.replace('{detail}', failure.message), 'error');
    } finally {
      button.disabled = false;
    }
  });
  step.append(button);
  $('passkey-step')?.remove();
  $('signin').after(step);
  say('');
  button.focus();
  return true;
}

/** /account/passkeys/: sign in (password, passkey, the passkey step), then the list. */
export function showPasskeys(client, settings) {
  const t = TEXT[settings.lang] ?? TEXT.en;
  const section = $('passkeys');
  const dates = new Intl.DateTimeFormat(settings.lang, { dateStyle: 'medium' });
  const when = (iso) => dates.format(new Date(iso));
  $('title').textContent = t.title;
  $('intro').textContent = t.intro;
  if (!Passkeys.supported()) return say(t.unsupported, 'error');

  let signIn;
  const signedIn = async (body) => {
    signIn?.stopAutofill();
    $('signin').hidden = true;
    $('passkey-step')?.remove();
    say(body.user ? t.signedIn.replace('{name}', body.user.username) : '', 'ok');
    await render();
  };
  const askSignIn = () => {
    section.hidden = true;
    $('signin').hidden = false;
    signIn = passkeySignIn(client, { lang: settings.lang, onSignedIn: signedIn }) ?? signIn;
  };
  $('signin').addEventListener('submit', async (event) => {
    event.preventDefault();
    const form = new FormData($('signin'));
    try {
      await signedIn(await client.login(String(form.get('username')), String(form.get('password'))));
    } catch (error) {
      if (passkeySecondStep(client, error, { lang: settings.lang, onSignedIn: signedIn })) return;
      say(error instanceof LatchkeyError ? error.detail : t.failed.replace('{detail}', error.message), 'error');
    }
  });

  const fail = (error) => say(dismissed(error) ? t.cancelled : t.failed.replace('{detail}', error.message), 'error');

  function row(passkey) {
    const name = el('strong', { className: 'passkey-name', textContent: passkey.name });
    const facts = [t.created.replace('{date}', when(passkey.created_at)), passkey.last_used_at ? t.lastUsed.replace('{date}', when(passkey.last_used_at)) : t.neverUsed, passkey.backed_up ? t.synced : t.deviceBound];
    const renameButton = el('button', { type: 'button', className: 'secondary', textContent: t.rename });
    const removeButton = el('button', { type: 'button', className: 'danger', textContent: t.remove });
    renameButton.setAttribute('aria-label', `${t.rename} ${passkey.name}`);
    removeButton.setAttribute('aria-label', `${t.remove} ${passkey.name}`);
    const item = el('li', { className: 'passkey' }, el('div', {}, name, el('small', { textContent: facts.join(' · ') })), el('div', { className: 'actions' }, renameButton, removeButton));
    renameButton.addEventListener('click', () => {
      const input = el('input', { name: 'name', value: passkey.name, maxLength: 64, required: true });
      input.setAttribute('aria-label', t.name);
      const cancel = el('button', { type: 'button', className: 'secondary', textContent: t.cancel });
      const edit = el('form', { className: 'rename' }, input, el('button', { type: 'submit', textContent: t.save }), cancel);
      cancel.addEventListener('click', () => render());
      edit.addEventListener('submit', async (event) => {
        event.preventDefault();
        try {
          const renamed = await client.passkeys.rename(passkey.id, input.value);
          await render();
          say(t.renamed.replace('{name}', renamed.name), 'ok');
        } catch (error) {
          fail(error);
        }
      });
      item.replaceChildren(edit);
      input.focus();
      input.select();
    });
    removeButton.addEventListener('click', async () => {
      if (!window.confirm(t.confirmRemove.replace('{name}', passkey.name))) return;
      try {
        await client.passkeys.remove(passkey.id);
        await render().catch(() => askSignIn());
        say(t.removed.replace('{name}', passkey.name), 'ok');
      } catch (error) {
        fail(error);
      }
    });
    return item;
  }

  async function render() {
    let passkeys;
    try {
      passkeys = await client.passkeys.list();
    } catch (error) {
      if (error instanceof LatchkeyError && error.status === 401) return askSignIn();
      throw error;
    }
    const input = el('input', { name: 'name', id: 'passkey-name', required: true, maxLength: 64, placeholder: t.namePlaceholder });
    const add = el('form', { id: 'passkey-add' }, el('label', {}, el('span', { textContent: t.name }), input), el('button', { type: 'submit', textContent: t.add }));
    add.addEventListener('submit', async (event) => {
      event.preventDefault();
      const button = add.querySelector('button');
      button.disabled = true;
      try {
        const passkey = await client.passkeys.register(input.value);
        await render();
        say(t.added.replace('{name}', passkey.name), 'ok');
      } catch (error) {
        fail(error);
      } finally {
        button.disabled = false;
      }
    });
    const signOut = el('button', { type: 'button', id: 'signout', className: 'secondary', textContent: t.signOut });
    signOut.addEventListener('click', async () => {
      await client.logout().catch(() => {});
      askSignIn();
      say(t.signedOut, 'ok');
    });
    const list = passkeys.length > 0 ? el('ul', { id: 'passkey-list', className: 'passkeys' }, ...passkeys.map(row)) : el('p', { id: 'passkey-list', textContent: t.none });
    section.replaceChildren(list, add, signOut);
    section.hidden = false;
  }

  render().catch(fail);
}
