// The admin console: one page on latchkey/client. Cookie mode when the server
// runs with AUTH_COOKIES=true, else header mode with the tokens in sessionStorage.
// Every value from the server is written with textContent, never as HTML.
import { AUDIT_EVENT_TYPES, LatchkeyClient, LatchkeyError, localStorageStorage } from './latchkey-client.js';

const settings = JSON.parse(document.querySelector('meta[name="latchkey"]').content);
const $ = (id) => document.getElementById(id);
const client = new LatchkeyClient({
  baseUrl: settings.baseUrl,
  authBasePath: settings.authBasePath,
  mode: settings.mode,
  ...(settings.mode === 'header' ? { storage: localStorageStorage('latchkey.admin', sessionStorage) } : {}),
  onSessionExpired: () => showSignIn(me ? 'Your session ended. Sign in again.' : ''),
});

let me = null;
const paging = { users: { page: 1, search: '' }, audit: { page: 1, filters: {} } };

function showSignIn(message = '') {
  me = null;
  $('console').hidden = true;
  $('sign-out').hidden = true;
  $('who').textContent = '';
  $('sign-in').hidden = false;
  $('sign-in-error').textContent = message;
}

async function showConsole() {
  me = await client.me();
  $('sign-in').hidden = true;
  $('console').hidden = false;
  $('sign-out').hidden = false;
  $('who').textContent = me.username;
  await show('sessions');
}

/** Calls the API; a non-2xx answer becomes a LatchkeyError. */
async function api(path, init = {}) {
  const response = await client.fetch(path, {
    ...init,
    headers: { Accept: 'application/json', ...(init.body ? { 'Content-Type': 'application/json' } : {}) },
  });
  if (response.status === 401) {
    showSignIn('Your session ended. Sign in again.');
    throw new LatchkeyError(401, 'not_authenticated', 'Signed out.');
  }
  if (!response.ok) {
    const body = await response.json().catch(() => ({}));
    throw new LatchkeyError(response.status, body.code ?? 'error', body.detail ?? `HTTP ${response.status}`, body);
  }
  return response.status === 204 ? null : response.json();
}

function cell(row, text) {
  const td = document.createElement('td');
  td.textContent = text ?? '';
  row.append(td);
  return td;
}

function action(td, label, onClick, danger = false) {
  const button = document.createElement('button');
  button.type = 'button';
  button.textContent = label;
  if (danger) button.className = 'danger';
  button.addEventListener('click', () => run(onClick));
  td.append(button);
}

const when = (iso) => (iso ? new Date(iso).toLocaleString() : '');

async function run(task) {
  $('console-error').textContent = '';
  try {
    await task();
  } catch (error) {
    if (error instanceof LatchkeyError && error.status === 401) return;
    $('console-error').textContent = error instanceof LatchkeyError ? `${error.detail} (${error.code})` : String(error);
  }
}

async function show(view) {
  for (const name of ['sessions', 'users', 'audit', 'everyone']) {
    $(`view-${name}`).hidden = name !== view;
    document.querySelector(`nav [data-view="${name}"]`).toggleAttribute('aria-current', name === view);
    if (name === view) document.querySelector(`nav [data-view="${name}"]`).setAttribute('aria-current', 'page');
  }
  $('everyone-confirm').hidden = true;
  if (view === 'sessions') await loadSessions();
  if (view === 'users') await loadUsers();
  if (view === 'audit') await loadAudit();
}

async function loadSessions() {
  const sessions = await api(`${settings.authBasePath}/sessions/`);
  const body = $('sessions');
  body.replaceChildren();
  for (const session of sessions) {
    const row = document.createElement('tr');
    if (session.current) row.className = 'current';
    cell(row, when(session.created_at));
    cell(row, when(session.last_used_at));
    cell(row, when(session.expires_at));
    cell(row, session.user_agent);
    cell(row, session.ip);
    const td = cell(row, session.current ? 'this session' : '');
    if (!session.current) {
      action(td, 'Revoke', async () => {
        await api(`${settings.authBasePath}/sessions/${encodeURIComponent(session.id)}/`, { method: 'DELETE' });
        await loadSessions();
      }, true);
    }
    body.append(row);
  }
}

async function loadUsers() {
  const { page, search } = paging.users;
  const query = new URLSearchParams({ page: String(page), ...(search ? { search } : {}) });
  const data = await api(`/admin/users/?${query}`);
  const body = $('users');
  body.replaceChildren();
  for (const user of data.results) {
    const row = document.createElement('tr');
    row.dataset.username = user.username;
    cell(row, String(user.id));
    cell(row, user.username);
    cell(row, user.email);
    cell(row, user.role);
    cell(row, user.is_active ? 'yes' : 'no');
    cell(row, user.mfa_enabled ? 'yes' : 'no').className = user.mfa_enabled ? 'mfa-on' : 'mfa-off';
    cell(row, user.password_needs_reset ? 'required' : '');
    const td = cell(row, '');
    const path = `/admin/users/${user.id}/`;
    if (user.is_active) action(td, 'Deactivate', async () => { await api(path, { method: 'DELETE' }); await loadUsers(); }, true);
    if (!user.password_needs_reset) {
      action(td, 'Force password reset', async () => {
        await api(path, { method: 'PATCH', body: JSON.stringify({ password_needs_reset: true }) });
        await loadUsers();
      });
    }
    // The administrator never sets or sees a password: the user gets a link and chooses one.
    if (user.email) {
      action(td, 'Send reset link', async () => {
        await api(`${path}password-reset/`, { method: 'POST', body: '{}' });
        $('console-error').textContent = `${user.username}: a password-reset link was mailed to ${user.email}.`;
      });
    }
    // Your own factor is removed from your account (with a current code), never here.
    if (user.mfa_enabled && user.id !== me?.id) action(td, 'Reset second factor', () => confirmMfaReset(user), true);
    action(td, 'Log out', async () => {
      const { sessions_ended } = await api(`${path}logout/`, { method: 'POST', body: '{}' });
      $('console-error').textContent = `${user.username}: ${sessions_ended} session(s) ended.`;
      if (user.id === me?.id) await client.me();
    });
    body.append(row);
  }
  $('users-count').textContent = `${data.count} user(s), page ${page}`;
  $('users-prev').disabled = !data.previous;
  $('users-next').disabled = !data.next;
}

/** Asks first (a modal dialog); on "yes", removes the user's factors, which ends their sessions and mails them. */
function confirmMfaReset(user) {
  const dialog = $('mfa-reset-confirm');
  $('mfa-reset-user').textContent = user.username;
  dialog.returnValue = '';
  dialog.addEventListener('close', () => {
    if (dialog.returnValue !== 'reset') return;
    run(async () => {
      await api(`/admin/users/${user.id}/mfa/reset/`, { method: 'POST', body: '{}' });
      await loadUsers();
      $('console-error').textContent = `${user.username}: second factor removed, every session ended; they were mailed.`;
    });
  }, { once: true });
  dialog.showModal();
}

async function loadAudit() {
  const { page, filters } = paging.audit;
  const query = new URLSearchParams({ page: String(page), ...filters });
  const data = await api(`/admin/audit-events/?${query}`);
  const body = $('audit');
  body.replaceChildren();
  for (const event of data.results) {
    const row = document.createElement('tr');
    cell(row, when(event.at));
    cell(row, event.type);
    cell(row, event.user_id === null ? '' : String(event.user_id));
    cell(row, event.outcome);
    cell(row, event.ip);
    cell(row, JSON.stringify(event.detail));
    body.append(row);
  }
  $('audit-count').textContent = `${data.count} event(s), page ${page}`;
  $('audit-prev').disabled = !data.previous;
  $('audit-next').disabled = !data.next;
}

$('sign-in-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  $('sign-in-error').textContent = '';
  try {
    await client.login(String(form.get('username')), String(form.get('password')));
    event.target.reset();
    await showConsole();
  } catch (error) {
    $('sign-in-error').textContent = error instanceof LatchkeyError ? error.detail : String(error);
  }
});

$('sign-out').addEventListener('click', async () => {
  await client.logout().catch(() => {});
  showSignIn();
});

for (const button of document.querySelectorAll('nav [data-view]')) button.addEventListener('click', () => run(() => show(button.dataset.view)));

$('user-search').addEventListener('submit', (event) => {
  event.preventDefault();
  paging.users = { page: 1, search: String(new FormData(event.target).get('search') ?? '').trim() };
  run(loadUsers);
});
$('users-prev').addEventListener('click', () => { paging.users.page -= 1; run(loadUsers); });
$('users-next').addEventListener('click', () => { paging.users.page += 1; run(loadUsers); });

const typeSelect = document.querySelector('#audit-filters select[name="type"]');
for (const type of AUDIT_EVENT_TYPES) typeSelect.append(new Option(type, type));
$('audit-filters').addEventListener('submit', (event) => {
  event.preventDefault();
  const filters = {};
  for (const [name, value] of new FormData(event.target)) {
    const text = String(value).trim();
    if (!text) continue;
    filters[name] = name === 'since' || name === 'until' ? new Date(text).toISOString() : text;
  }
  paging.audit = { page: 1, filters };
  run(loadAudit);
});
$('audit-prev').addEventListener('click', () => { paging.audit.page -= 1; run(loadAudit); });
$('audit-next').addEventListener('click', () => { paging.audit.page += 1; run(loadAudit); });

$('everyone-ask').addEventListener('click', () => { $('everyone-confirm').hidden = false; });
$('everyone-no').addEventListener('click', () => { $('everyone-confirm').hidden = true; });
$('everyone-yes').addEventListener('click', () => run(async () => {
  await api('/admin/invalidate-all-tokens/', { method: 'POST', body: '{}' });
  // Our own session ended too: the next call finds out and returns to sign-in.
  await api(`${settings.authBasePath}/sessions/`);
}));

// Start: signed in already (a cookie or a stored token), or not.
client.me().then(showConsole, () => showSignIn());
