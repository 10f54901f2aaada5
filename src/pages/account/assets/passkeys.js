// Passkeys on the account pages (SPEC §12, §13): /account/passkeys/ lists the
// signed-in user's passkeys, adds one under a name, renames and removes them;
// the sign-in form gains "Sign in with a passkey" (and the browser's autofill,
// autocomplete="username webauthn"), and a passkey as the second step after
// the password. Only latchkey/client; its own English and French text.
import { Passkeys } from '../latchkey-client.js';
import { $, accountUrl, client, h, say, settings, show, strings } from './page.js';

const t = strings({
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
    back: 'Your account',
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
    back: 'Votre compte',
    signedOut: 'Vous êtes déconnecté.',
    signedIn: 'Connecté en tant que {name}.',
    unsupported: 'Ce navigateur ne sait pas utiliser les clés d’accès.',
    cancelled: 'Aucune clé d’accès n’a été utilisée.',
    failed: 'Une erreur est survenue\u00a0: {detail}',
  },
});

/** The browser's "the user closed the dialog" and "another ceremony took over" are not errors to show as such. */
function dismissed(error) {
  return typeof error?.name === 'string' && (error.name === 'NotAllowedError' || error.name === 'AbortError');
}

const fail = (error) => say(dismissed(error) ? t.cancelled : t.failed.replace('{detail}', error?.detail ?? error?.message ?? String(error)), 'error');

/**
 * Adds "Sign in with a passkey" to the sign-in form and offers passkeys from
 * the username field's autofill where the browser can; `onSignedIn(body)` runs after.
 */
export function passkeySignIn(form, onSignedIn) {
  if (!Passkeys.supported() || form.querySelector('#signin-passkey')) return;
  let autofill;
  const done = (body) => {
    autofill?.abort();
    form.hidden = true;
    $('second-step')?.remove();
    $('passkey-step')?.remove();
    say('');
    onSignedIn(body);
  };
  const startAutofill = async () => {
    if (!(await Passkeys.autofillAvailable())) return;
    autofill = new window.AbortController();
    // Autofill is offered, not asked for: only a passkey the user picked and the server refused is worth a word.
    // A browser that will not run the ceremony here (an IP address is no relying-party domain) stays silent.
    client.passkeys.login({ conditional: true, signal: autofill.signal }).then(done, (error) => {
      if (!dismissed(error) && !(error instanceof window.DOMException)) fail(error);
    });
  };
  const button = h('button', { type: 'button', id: 'signin-passkey', className: 'secondary', textContent: t.signInPasskey });
  button.addEventListener('click', async () => {
    autofill?.abort();
    button.disabled = true;
    try {
      done(await client.passkeys.login());
    } catch (error) {
      fail(error);
      void startAutofill();
    } finally {
      button.disabled = false;
    }
  });
  const submit = form.querySelector('button[type="submit"]');
  if (submit.parentElement.classList.contains('actions')) submit.after(button);
  else {
    const actions = h('div', { className: 'actions' });
    submit.before(actions);
    actions.append(submit, button);
  }
  void startAutofill();
}

/** After `mfa_required` with `webauthn` among the methods: the passkey step (beside the code form, if any). */
export function passkeyStep(challenge, onSignedIn) {
  $('passkey-step')?.remove();
  const button = h('button', { type: 'button', id: 'passkey-step-button', textContent: t.usePasskey });
  const step = h('div', { id: 'passkey-step' }, h('p', { textContent: t.secondStep }), h('div', { className: 'actions' }, button));
  button.addEventListener('click', async () => {
    button.disabled = true;
    try {
      const body = await client.passkeys.verifyMfa(challenge.mfaToken);
      step.remove();
      $('second-step')?.remove();
      say('');
      onSignedIn(body);
    } catch (error) {
      fail(error);
    } finally {
      button.disabled = false;
    }
  });
  $('signin').after(step);
  button.focus();
}

/** /account/passkeys/ for the signed-in user, in the element `view`. */
export async function passkeys(view) {
  $('title').textContent = t.title;
  if (!Passkeys.supported()) return say(t.unsupported, 'error');
  const dates = new Intl.DateTimeFormat(settings.lang, { dateStyle: 'medium' });
  const when = (iso) => dates.format(new Date(iso));
  // A passkey removed may have opened this very session: then the page asks to sign in again.
  const again = () => location.assign(accountUrl('passkeys/'));

  function row(passkey) {
    const name = h('strong', { className: 'passkey-name', textContent: passkey.name });
    const facts = [t.created.replace('{date}', when(passkey.created_at)), passkey.last_used_at ? t.lastUsed.replace('{date}', when(passkey.last_used_at)) : t.neverUsed, passkey.backed_up ? t.synced : t.deviceBound];
    const renameButton = h('button', { type: 'button', className: 'secondary', textContent: t.rename, 'aria-label': `${t.rename} ${passkey.name}` });
    const removeButton = h('button', { type: 'button', className: 'danger', textContent: t.remove, 'aria-label': `${t.remove} ${passkey.name}` });
    const item = h('li', { className: 'passkey' }, h('div', {}, name, h('small', { textContent: facts.join(' · ') })), h('div', { className: 'passkey-actions' }, renameButton, removeButton));
    renameButton.addEventListener('click', () => {
      const input = h('input', { name: 'name', value: passkey.name, maxLength: 64, required: true, 'aria-label': t.name });
      const cancel = h('button', { type: 'button', className: 'secondary', textContent: t.cancel });
      const edit = h('form', { className: 'rename' }, input, h('button', { type: 'submit', textContent: t.save }), cancel);
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
        await render().catch(again);
        say(t.removed.replace('{name}', passkey.name), 'ok');
      } catch (error) {
        fail(error);
      }
    });
    return item;
  }

  async function render() {
    const list = await client.passkeys.list();
    const add = h('form', { id: 'passkey-add' },
      h('label', {}, h('span', { textContent: t.name }), ' ', h('input', { name: 'name', id: 'passkey-name', required: true, maxLength: 64, placeholder: t.namePlaceholder })),
      h('button', { type: 'submit', textContent: t.add }));
    add.addEventListener('submit', async (event) => {
      event.preventDefault();
      const button = add.querySelector('button');
      button.disabled = true;
      try {
        const passkey = await client.passkeys.register(add.querySelector('input').value);
        await render();
        say(t.added.replace('{name}', passkey.name), 'ok');
      } catch (error) {
        fail(error);
      } finally {
        button.disabled = false;
      }
    });
    const signOut = h('button', { type: 'button', id: 'signout', className: 'secondary', textContent: t.signOut });
    signOut.addEventListener('click', async () => {
      await client.logout().catch(() => {});
      again();
    });
    show(view, [
      h('p', { textContent: t.intro }),
      list.length > 0 ? h('ul', { id: 'passkey-list', className: 'passkeys' }, ...list.map(row)) : h('p', { id: 'passkey-list', textContent: t.none }),
      add,
      h('div', { className: 'actions back' }, h('a', { href: accountUrl(), textContent: t.back }), signOut),
    ], add.querySelector('input'));
  }

  await render();
}
