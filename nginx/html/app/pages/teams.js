// Teams of the developers' API, on the account page: the teams you are in, with your role; a new
// team; each team's members (roles changed and members removed by its owners and admins; anyone
// may leave), invitations by link (shown once, to pass on: no mail is sent), its keys (made with a
// role no greater than yours), and its balance and usage for the roles that read them. An
// invitation's link opens the account page (#invitation=...), which asks before joining. What the
// caller's role allows comes with each team from authd (scopes, manages_members, manageable_roles,
// key_roles), so the rules live in one place.

import { api } from '../api.js';
import { h, fill, field, alertBox, showError, onSubmit } from '../dom.js';
import { t } from '../i18n.js';

/** The teams card; `money` holds the account page's `dollars` and `developersSection`. */
export async function teamsSection(me, money) {
  const list = h('div', { class: 'teams' });
  const reload = async () => {
    const { teams } = await api.get('/auth/teams');
    fill(list, await Promise.all(teams.map((team) => teamCard(team, me, money, reload))));
  };
  const error = alertBox();
  const name = h('input', { name: 'team_name', required: true, maxlength: 100 });
  const submit = h('button', { type: 'submit' }, t('teams.create'));
  const form = h('form', {
    onsubmit: onSubmit({ submit, error, t }, async () => {
      await api.post('/auth/teams', { name: name.value.trim() });
      name.value = '';
      await reload();
    }),
  }, field(t('teams.name'), name), error, submit);
  await reload();
  return h('section', { class: 'card' },
    h('h2', {}, t('teams.title')), h('p', { class: 'hint' }, t('teams.about')),
    invitationBanner(reload), list, h('h3', {}, t('teams.new')), form);
}

/** The invitation in the page's address, if any: joined only when the user says so. */
function invitationBanner(reload) {
  const token = new URLSearchParams(location.hash.slice(1)).get('invitation');
  if (!token) return null;
  const error = alertBox();
  const join = h('button', { type: 'button', class: 'primary' }, t('teams.join'));
  const banner = h('div', { class: 'once', role: 'status' }, h('p', {}, t('teams.invited')), error, join);
  join.addEventListener('click', async () => {
    join.disabled = true;
    try {
      const team = await api.post('/auth/invitations/accept', { token });
      history.replaceState(history.state, '', location.pathname);
      fill(banner, h('p', {}, t('teams.joined', { name: team.name, role: t(`role.${team.role}`) })));
      await reload();
    } catch (failure) {
      join.disabled = false;
      showError(error, failure, t);
    }
  });
  return banner;
}

async function teamCard(team, me, money, reload) {
  const [detail, keys, invitations] = await Promise.all([
    api.get(`/auth/teams/${team.id}`),
    api.get(`/auth/teams/${team.id}/api-keys`),
    team.manages_members ? api.get(`/auth/teams/${team.id}/invitations`) : null,
  ]);
  const error = alertBox();
  return h('article', { class: 'team', 'data-team': team.id },
    h('h3', {}, team.name, ' ', h('span', { class: 'meta' }, t('teams.yourRole', { role: t(`role.${team.role}`) }))),
    error,
    membersList(team, me, detail.members, error, reload),
    team.manages_members ? invitationsPart(team, invitations.invitations) : null,
    keysPart(team, me, keys.api_keys, money.dollars),
    team.scopes.includes('usage:read') ? await money.developersSection(team) : null);
}

function membersList(team, me, members, error, reload) {
  const act = async (button, run) => {
    button.disabled = true;
    try {
      await run();
      await reload();
    } catch (failure) {
      button.disabled = false;
      showError(error, failure, t);
    }
  };
  const rows = members.map((member) => {
    const itsMe = member.user_id === me.user_id;
    const parts = [h('span', {}, member.email ?? member.user_id, itsMe ? ` (${t('teams.you')})` : ''), h('span', { class: 'meta' }, t(`role.${member.role}`))];
    if (!itsMe && team.manageable_roles.includes(member.role)) {
      const role = h('select', { name: 'member_role', 'aria-label': t('teams.role') },
        team.manageable_roles.map((option) => h('option', { value: option, selected: option === member.role }, t(`role.${option}`))));
      role.addEventListener('change', () => act(role, () => api.patch(`/auth/teams/${team.id}/members/${member.user_id}`, { role: role.value })));
      const remove = h('button', { type: 'button' }, t('teams.remove'));
      remove.addEventListener('click', () => act(remove, () => api.delete(`/auth/teams/${team.id}/members/${member.user_id}`)));
      parts.push(role, remove);
    }
    if (itsMe) {
      const leave = h('button', { type: 'button' }, t('teams.leave'));
      leave.addEventListener('click', () => act(leave, () => api.delete(`/auth/teams/${team.id}/members/${member.user_id}`)));
      parts.push(leave);
    }
    return h('li', {}, parts);
  });
  return [h('h4', {}, t('teams.members')), h('ul', { class: 'rows' }, rows)];
}

function invitationsPart(team, invitations) {
  const error = alertBox();
  const shown = h('div', { class: 'once', hidden: true, role: 'status' });
  const open = h('ul', { class: 'rows' }, invitations.map((invitation) =>
    h('li', {}, h('span', {}, invitation.email), h('span', { class: 'meta' }, t(`role.${invitation.role}`)))));
  const email = h('input', { type: 'email', name: 'invite_email', required: true });
  const role = h('select', { name: 'invite_role' },
    // Owners are made from members, not invited.
    team.manageable_roles.filter((option) => option !== 'owner').map((option) => h('option', { value: option, selected: option === 'member' }, t(`role.${option}`))));
  const submit = h('button', { type: 'submit' }, t('teams.invite'));
  const form = h('form', {
    onsubmit: onSubmit({ submit, error, t }, async () => {
      const made = await api.post(`/auth/teams/${team.id}/invitations`, { email: email.value.trim(), role: role.value });
      fill(shown, h('p', {}, t('teams.linkOnce', { email: made.invitation.email })), h('code', { class: 'key invitation-link' }, made.link));
      shown.hidden = false;
      open.prepend(h('li', {}, h('span', {}, made.invitation.email), h('span', { class: 'meta' }, t(`role.${made.invitation.role}`))));
      email.value = '';
    }),
  }, h('div', { class: 'row' }, field(t('auth.email'), email), field(t('teams.role'), role)), error, submit);
  return [h('h4', {}, t('teams.invitations')), open, shown, form];
}

function keysPart(team, me, keys, dollars) {
  const error = alertBox();
  const shown = h('div', { class: 'once', hidden: true, role: 'status' });
  const list = h('ul', { class: 'rows' });
  const row = (key) => {
    const item = h('li', {},
      h('span', {}, key.name, ' ', h('code', {}, `${key.prefix}…`)),
      h('span', { class: 'meta' }, t(`role.${key.role}`), key.daily_limit_micros ? ` · ${t('account.dailyLimit', { amount: dollars(key.daily_limit_micros) })}` : ''));
    if (team.manageable_roles.includes(key.role) || key.created_by === me.user_id) {
      const revoke = h('button', { type: 'button' }, t('account.revoke'));
      revoke.addEventListener('click', async () => {
        revoke.disabled = true;
        try {
          await api.delete(`/auth/teams/${team.id}/api-keys/${key.id}`);
          item.remove();
        } catch (failure) {
          revoke.disabled = false;
          showError(error, failure, t);
        }
      });
      item.append(revoke);
    }
    return item;
  };
  fill(list, keys.map(row));
  const name = h('input', { name: 'team_key_name', required: true, maxlength: 100 });
  const role = h('select', { name: 'team_key_role' },
    team.key_roles.map((option) => h('option', { value: option }, t(`role.${option}`))));
  const limit = h('input', { type: 'number', name: 'team_key_limit', min: 0.01, max: 1000000, step: 0.01 });
  const password = h('input', { type: 'password', name: 'team_key_password', autocomplete: 'current-password', required: true });
  const submit = h('button', { type: 'submit' }, t('account.createKey'));
  const form = h('form', {
    onsubmit: onSubmit({ submit, error, t }, async () => {
      const request = { name: name.value.trim(), role: role.value, password: password.value };
      if (limit.value) request.daily_limit_micros = Math.round(Number(limit.value) * 1e6);
      const created = await api.post(`/auth/teams/${team.id}/api-keys`, request);
      password.value = '';
      fill(shown, h('p', {}, t('account.keyOnce')), h('code', { class: 'key' }, created.key));
      shown.hidden = false;
      fill(list, (await api.get(`/auth/teams/${team.id}/api-keys`)).api_keys.map(row));
    }),
  },
  h('div', { class: 'row' }, field(t('account.keyName'), name), field(t('teams.role'), role), field(t('account.keyDailyLimit'), limit)),
  field(t('account.password'), password), error, submit);
  return [h('h4', {}, t('teams.keys')), list, shown, form];
}
