// Notifications: the URLs that hear about approvals and finished runs, and what was sent.
import { api, currentUser, get, post } from '../api.js';
import { fill, h, json, problemBox, show, statusBadge, table, time } from '../dom.js';
import { field, showErrors } from './task_form.js';

const EVENTS = ['approval.requested', 'approval.decided', 'execution.finished', 'budget.threshold'];

async function deliveries(target, box) {
  const list = await get(`/notification-targets/${target.id}/deliveries?limit=20`);
  fill(box, h('h3', {}, 'Deliveries to ', h('code', {}, target.url)), table(['Event', 'Status', 'Attempts', 'Last error', 'Created', ''], list.items.map((d) => [
    d.event, statusBadge(d.status), d.attempts, d.last_error ?? '', time(d.created_at),
    h('details', {}, h('summary', {}, 'body'), h('pre', {}, json(d.body))),
  ]), 'Nothing sent yet.'));
}

export async function notificationTargets() {
  const user = await currentUser();
  const targets = await get('/notification-targets?limit=100');
  const url = h('input', { name: 'url', type: 'url', required: true, placeholder: 'https://hooks.example.com/overseer' });
  const format = h('select', { name: 'format' }, ['json', 'slack'].map((f) => h('option', { value: f }, f)));
  const boxes = EVENTS.map((event) => h('input', { type: 'checkbox', name: 'events', value: event, checked: event !== 'budget.threshold' }));
  const global = h('input', { type: 'checkbox', role: 'switch', name: 'global' });
  const errors = h('div');
  const form = h('form', {
    onsubmit: async (event) => {
      event.preventDefault();
      try {
        const target = await post('/notification-targets', {
          url: url.value,
          format: format.value,
          events: boxes.filter((b) => b.checked).map((b) => b.value),
          global: global.checked,
        });
        await notificationTargets();
        // Shown once: the page was just redrawn, so it goes on the new one.
        fill(document.getElementById('secret-once'), h('article', { class: 'approval' },
          h('strong', {}, 'Signing secret (shown this once): '), h('code', { 'data-secret': '' }, target.secret)));
      } catch (error) {
        showErrors(form, errors, error);
      }
    },
  },
  field('URL', url, 'Deliveries are POSTed here, signed with the secret shown once.'),
  h('fieldset', {}, h('legend', {}, 'Events'), h('small', { class: 'field-error', 'data-error-for': 'events' }),
    boxes.map((box) => h('label', {}, box, box.value))),
  field('Format', format),
  user.role === 'admin' ? h('label', {}, global, 'Everyone\'s events (global)') : null,
  errors,
  h('button', { type: 'submit' }, 'Add target'));
  show(
    h('h2', {}, 'Notifications'),
    h('p', { class: 'muted' }, 'Approvals (with one-tap approve and deny links) and finished runs, sent to your URLs and retried until they arrive.'),
    h('div', { id: 'secret-once' }),
    table(['URL', 'Events', 'Format', 'Scope', 'Since', ''], targets.items.map((target) => {
      return [
        h('code', {}, target.url), target.events.join(', '), target.format, target.global ? 'global' : 'own',
        time(target.created_at),
        h('div', { class: 'row' },
          h('button', {
            class: 'outline',
            onclick: () => deliveries(target, document.getElementById('deliveries'))
              .catch((err) => fill(document.getElementById('deliveries'), problemBox(err))),
          }, 'Deliveries'),
          h('button', {
            class: 'secondary outline',
            onclick: async () => {
              if (!confirm(`Stop notifying ${target.url}?`)) return;
              await api('DELETE', `/notification-targets/${target.id}`);
              notificationTargets();
            },
          }, 'Remove')),
      ];
    }), 'No targets yet.'),
    h('section', { id: 'deliveries' }),
    h('details', {}, h('summary', {}, 'Add a target'), form));
}
