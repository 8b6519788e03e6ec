// Sessions: the list (and a new interactive one), and one session's live transcript.
import { get, post } from '../api.js';
import { h, problemBox, show, statusBadge, table, time, usd } from '../dom.js';
import { transcriptView } from './transcript.js';

export async function sessionList() {
  const sessions = await get('/sessions?limit=50');
  const name = h('input', { name: 'name', placeholder: 'Name of a new conversation', required: true });
  const errors = h('div');
  show(
    h('h2', {}, 'Sessions'),
    h('form', {
      class: 'row',
      onsubmit: async (event) => {
        event.preventDefault();
        try {
          const session = await post('/sessions', { name: name.value });
          location.hash = `#/sessions/${session.id}`;
        } catch (error) {
          errors.replaceChildren(problemBox(error));
        }
      },
    }, name, h('button', { type: 'submit' }, 'New session')),
    errors,
    table(['Name', 'Mode', 'Status', 'Agent', 'Messages', 'Cost', 'Updated'], sessions.items.map((s) => [
      h('a', { href: `#/sessions/${s.id}` }, s.name ?? s.id.slice(0, 8)),
      s.mode, statusBadge(s.status), s.agent_state ?? '—', s.message_count, usd(s.total_cost_usd), time(s.updated_at),
    ]), 'No sessions yet.'));
}

export async function sessionDetail(id) {
  show(await transcriptView(id));
}
