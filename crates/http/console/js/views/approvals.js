// Approvals: every tool use waiting for the signed-in user (everyone's for an admin who
// asks), answered with one click; the list follows the badge's refresh.
import { currentUser, get } from '../api.js';
import { fill, h, problemBox, show, statusBadge, table, time } from '../dom.js';
import { onLeave } from '../shell.js';
import { approvalCard, approvalSubject, decide } from './transcript.js';

export async function approvalList() {
  const user = await currentUser();
  let everyone = false;
  let shown = null;
  const list = h('div');
  const notice = h('div');
  const render = async () => {
    const [pending, answered] = await Promise.all([
      get(`/approvals?status=pending&limit=100${everyone ? '&all=true' : ''}`),
      get(`/approvals?limit=20${everyone ? '&all=true' : ''}`),
    ]);
    // Rebuilt only when something changed, so a button is never swapped under a click.
    const signature = JSON.stringify([everyone, pending.items, answered.items]);
    if (signature === shown) return;
    shown = signature;
    fill(list,
      pending.items.length === 0 ? h('p', { class: 'muted' }, 'Nothing is waiting for you.') : null,
      pending.items.map((approval) => approvalCard(approval, answer, { linkSession: true })),
      h('h3', {}, 'Recent'),
      table(['Asked', 'Status', 'Decided by', 'When'], answered.items.filter((a) => a.status !== 'pending').map((a) => [
        approvalSubject(a), statusBadge(a.status), a.decided_by ?? '—', time(a.decided_at ?? a.created_at),
      ]), 'None answered yet.'));
  };
  const answer = async (approval, decision) => {
    try {
      await decide(approval.session_id, approval, decision);
      await render();
    } catch (error) {
      notice.replaceChildren(problemBox(error));
    }
  };
  const onBadge = () => render();
  window.addEventListener('overseer:approvals', onBadge);
  onLeave(() => window.removeEventListener('overseer:approvals', onBadge));
  show(
    h('div', { class: 'row spread' }, h('h2', {}, 'Approvals'),
      user.role === 'admin' ? h('label', {}, h('input', {
        type: 'checkbox', role: 'switch',
        onchange: (e) => { everyone = e.target.checked; render(); },
      }), 'Everyone\'s') : null),
    notice, list);
  await render();
}
