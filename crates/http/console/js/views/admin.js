// Admin: accounts and their quotas, and the MCP servers every agent gets.
import { api, currentUser, get, post } from '../api.js';
import { h, json, problemBox, show, table, time, usd } from '../dom.js';
import { showErrors } from './task_form.js';

const DOLLAR_LIMITS = [
  ['max_daily_cost_usd', '$ per day'],
  ['max_monthly_cost_usd', '$ per month'],
  ['ask_above_usd', 'ask above $'],
];

function quotaForm(user, quota, onSaved) {
  const runs = h('input', { name: 'max_active_runs', type: 'number', min: 0, value: quota.own.max_active_runs ?? '', placeholder: 'runs: default', title: 'runs at once' });
  const dollars = DOLLAR_LIMITS.map(([name, label]) => h('input', {
    name, type: 'number', min: 0, step: 'any', value: quota.own[name] ?? '', placeholder: `${label}: default`, title: label,
  }));
  const errors = h('div');
  const form = h('form', {
    class: 'row',
    onsubmit: async (event) => {
      event.preventDefault();
      try {
        const limits = { max_active_runs: runs.value === '' ? null : Number(runs.value) };
        for (const input of dollars) limits[input.name] = input.value === '' ? null : Number(input.value);
        await api('PUT', `/users/${user.id}/quota`, limits);
        onSaved();
      } catch (error) {
        showErrors(form, errors, error);
      }
    },
  }, runs, dollars, h('button', { type: 'submit', class: 'outline' }, 'Set'), errors);
  return form;
}

async function users(section) {
  const list = await get('/users?limit=100');
  const quotas = await Promise.all(list.items.map((u) => get(`/users/${u.id}/quota`)));
  section.replaceChildren(h('h3', {}, 'Users and quotas'),
    h('p', { class: 'muted' }, 'Limits: runs at once, dollars per UTC day and month, and the cost at which a session stops to ask whether to go on (empty: the server default).'),
    table(['Email', 'Role', 'Since', 'Active runs', 'Spent today', 'This month', 'Limits'], list.items.map((user, i) => [
      user.email, user.role, time(user.created_at), quotas[i].active_runs, usd(quotas[i].cost_today_usd),
      usd(quotas[i].cost_this_month_usd),
      quotaForm(user, quotas[i], () => users(section)),
    ])));
}

async function mcpServers(section) {
  const list = await get('/mcp-servers?limit=100');
  const name = h('input', { name: 'name', placeholder: 'name', required: true });
  const config = h('textarea', { name: 'config', rows: 3, class: 'code' });
  config.value = '{"type": "http", "url": "https://…"}';
  const errors = h('div');
  const form = h('form', {
    onsubmit: async (event) => {
      event.preventDefault();
      try {
        let parsed;
        try { parsed = JSON.parse(config.value); } catch (e) {
          throw { problem: { title: 'Invalid JSON', detail: e.message, errors: [{ field: 'config', message: 'not valid JSON' }] } };
        }
        await post('/mcp-servers', { name: name.value, config: parsed, is_global: true });
        await mcpServers(section);
      } catch (error) {
        showErrors(form, errors, error);
      }
    },
  }, h('label', {}, 'Name', name, h('small', { class: 'field-error', 'data-error-for': 'name' })),
  h('label', {}, 'Configuration', config, h('small', { class: 'field-error', 'data-error-for': 'config' })),
  errors, h('button', { type: 'submit' }, 'Add global server'));
  section.replaceChildren(h('h3', {}, 'MCP servers'),
    table(['Name', 'Scope', 'Enabled', 'Configuration', ''], list.items.map((server) => [
      server.name, server.is_global ? 'global' : 'own', server.is_enabled ? 'yes' : 'no',
      h('details', {}, h('summary', {}, 'show'), h('pre', {}, json(server.config))),
      h('div', { class: 'row' },
        h('button', { class: 'secondary outline', onclick: async () => { await api('PATCH', `/mcp-servers/${server.id}`, { is_enabled: !server.is_enabled }); mcpServers(section); } }, server.is_enabled ? 'Disable' : 'Enable'),
        h('button', { class: 'secondary outline', onclick: async () => { if (confirm(`Remove ${server.name}?`)) { await api('DELETE', `/mcp-servers/${server.id}`); mcpServers(section); } } }, 'Remove')),
    ]), 'No MCP servers.'),
    h('details', {}, h('summary', {}, 'Add a global server'), form));
}

export async function admin() {
  const user = await currentUser();
  if (user.role !== 'admin') {
    show(h('h2', {}, 'Admin'), h('p', {}, 'Only admins see this page.'));
    return;
  }
  const usersSection = h('section');
  const serversSection = h('section');
  show(h('h2', {}, 'Admin'), usersSection, serversSection);
  await Promise.all([
    users(usersSection).catch((e) => usersSection.replaceChildren(problemBox(e))),
    mcpServers(serversSection).catch((e) => serversSection.replaceChildren(problemBox(e))),
  ]);
}
