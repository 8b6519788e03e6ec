// The audit log, filtered by action, resource and time.
import { get } from '../api.js';
import { h, json, show, table, time } from '../dom.js';

export async function auditLog() {
  const inputs = {
    action: h('input', { name: 'action', placeholder: 'e.g. task.executed' }),
    resource_type: h('input', { name: 'resource_type', placeholder: 'e.g. session' }),
    resource_id: h('input', { name: 'resource_id', placeholder: 'id' }),
    since: h('input', { name: 'since', type: 'datetime-local' }),
    until: h('input', { name: 'until', type: 'datetime-local' }),
  };
  const results = h('div');
  let offset = 0;
  const load = async () => {
    const query = new URLSearchParams({ limit: '50', offset: String(offset) });
    for (const [name, input] of Object.entries(inputs)) {
      if (!input.value) continue;
      query.set(name, input.type === 'datetime-local' ? new Date(input.value).toISOString() : input.value);
    }
    const page = await get(`/audit-logs?${query}`);
    results.replaceChildren(
      table(['When', 'Action', 'Resource', 'By', 'Details'], page.items.map((entry) => [
        time(entry.created_at), h('code', {}, entry.action_type),
        `${entry.resource_type ?? ''} ${entry.resource_id ? entry.resource_id.slice(0, 8) : ''}`,
        entry.user_id ? entry.user_id.slice(0, 8) : '—',
        entry.action_details && Object.keys(entry.action_details).length
          ? h('details', {}, h('summary', {}, 'details'), h('pre', {}, json(entry.action_details))) : '',
      ]), 'No entries match.'),
      h('div', { class: 'row' },
        offset > 0 ? h('button', { class: 'secondary outline', onclick: () => { offset = Math.max(0, offset - 50); load(); } }, 'Newer') : null,
        h('span', { class: 'muted' }, `${page.total} entries`),
        offset + 50 < page.total ? h('button', { class: 'secondary outline', onclick: () => { offset += 50; load(); } }, 'Older') : null));
  };
  show(h('h2', {}, 'Audit log'),
    h('form', { onsubmit: (event) => { event.preventDefault(); offset = 0; load().catch(() => {}); } },
      h('div', { class: 'grid' },
        h('label', {}, 'Action', inputs.action),
        h('label', {}, 'Resource type', inputs.resource_type),
        h('label', {}, 'Resource id', inputs.resource_id)),
      h('div', { class: 'grid' },
        h('label', {}, 'Since', inputs.since),
        h('label', {}, 'Until', inputs.until)),
      h('button', { type: 'submit' }, 'Filter')),
    results);
  await load();
}
