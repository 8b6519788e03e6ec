// A session's live transcript: messages as they arrive (markdown for the assistant's text,
// tool calls collapsible with their input and output), its pending approvals with one-click
// answers, its figures, and the actions a session takes.
import { get, post } from '../api.js';
import { h, json, problemBox, statusBadge, time, usd } from '../dom.js';
import { follow } from '../live.js';
import { markdown } from '../markdown.js';
import { onLeave, refreshBadge } from '../shell.js';

function toolCall(block) {
  return h('details', { class: 'tool-call', 'data-tool-use-id': block.id },
    h('summary', {}, 'Tool: ', h('code', {}, block.name)),
    h('small', {}, 'Input'), h('pre', {}, json(block.input)),
    h('div', { class: 'tool-output' }));
}

function blockView(block, transcript) {
  switch (block.type) {
    case 'text': return markdown(block.text);
    case 'thinking': return h('details', {}, h('summary', {}, 'Thinking'), h('pre', {}, block.text));
    case 'tool_use': return toolCall(block);
    case 'tool_result': {
      // The output goes under its tool call when that is on the page.
      const call = transcript.querySelector(`[data-tool-use-id="${CSS.escape(block.tool_use_id)}"] .tool-output`);
      const output = [h('small', {}, block.is_error ? 'Error' : 'Output'), h('pre', {}, block.content)];
      if (call) {
        call.replaceChildren(...output);
        return null;
      }
      return h('details', {}, h('summary', {}, 'Tool result'), output);
    }
    case 'error': return h('div', { class: 'error-box' }, block.text);
    default: return h('pre', {}, json(block));
  }
}

function messageView(sequence, message, transcript) {
  const blocks = (message.blocks ?? []).map((block) => blockView(block, transcript)).filter(Boolean);
  if (blocks.length === 0 && message.message_type !== 'result') return null;
  const kind = message.message_type === 'result' ? 'result' : message.role;
  const usage = message.usage ? ` · ${message.usage.input_tokens ?? 0} in / ${message.usage.output_tokens ?? 0} out` : '';
  return h('div', { class: `message ${kind}`, 'data-sequence': sequence },
    h('div', { class: 'meta' }, `#${sequence} ${kind}${message.model ? ` · ${message.model}` : ''}${usage}`),
    blocks,
    message.structured_output ? h('pre', {}, json(message.structured_output)) : null);
}

/**
 * A pending approval with its Approve and Deny buttons (`answer(approval, decision)`); with
 * `linkSession`, a link to its session (for lists outside the session).
 */
export function approvalCard(approval, answer, { linkSession = false } = {}) {
  const budget = approval.kind === 'budget';
  return h('article', { class: 'approval', 'data-approval-id': approval.id, 'data-kind': approval.kind },
    h('header', {}, h('strong', {}, budget ? 'Budget: ' : 'Approval needed: '), approvalSubject(approval),
      linkSession ? [' in ', h('a', { href: `#/sessions/${approval.session_id}` }, 'its session')] : null,
      h('span', { class: 'muted' }, ' · expires ', time(approval.expires_at))),
    budget ? null : h('pre', {}, json(approval.tool_input)),
    h('div', { class: 'row' },
      h('button', { onclick: () => answer(approval, 'allow') }, 'Approve'),
      h('button', { class: 'secondary', onclick: () => answer(approval, 'deny') }, 'Deny')));
}

/** What an approval asks about: its tool, or "continue past $X?" for a budget. */
export function approvalSubject(approval) {
  if (approval.kind !== 'budget') return h('code', {}, approval.tool_name);
  const { threshold_usd: threshold, spent_usd: spent } = approval.tool_input;
  return h('span', {}, `continue past $${threshold.toFixed(2)}? $${spent.toFixed(4)} spent so far`);
}

/** Answers `approval` of `sessionId`; returns once the server has it. */
export async function decide(sessionId, approval, decision) {
  await post(`/sessions/${sessionId}/approvals/${approval.id}`, { decision });
  refreshBadge();
}

/** The transcript of session `id`, live. Returns its element; stops when the view is left. */
export async function transcriptView(id) {
  let session = await get(`/sessions/${id}`);
  const header = h('div');
  const notice = h('div');
  const approvals = h('div', { class: 'approvals' });
  const messages = h('div', { class: 'transcript', 'data-session-id': id });
  const connection = h('button', { class: 'outline secondary connection', title: 'Reconnect the live stream now' }, 'connecting');

  const renderHeader = () => header.replaceChildren(
    h('div', { class: 'row spread' },
      h('h2', {}, session.name ?? 'Session'),
      h('div', { class: 'row' }, statusBadge(session.status), connection)),
    h('div', { class: 'stats' },
      h('span', {}, `mode ${session.mode}`),
      h('span', {}, `agent ${session.agent_state ?? '—'}${session.agent_queue_position ? ` (#${session.agent_queue_position} in queue)` : ''}`),
      h('span', { 'data-stat': 'tokens' }, `${session.input_tokens} in / ${session.output_tokens} out tokens`),
      h('span', { 'data-stat': 'cost' }, `cost ${usd(session.total_cost_usd)}`),
      h('span', {}, `${session.message_count} messages`)));
  const reload = async () => {
    session = await get(`/sessions/${id}`);
    renderHeader();
  };

  const pending = new Map();
  const renderApprovals = () => approvals.replaceChildren(...[...pending.values()].map((a) => approvalCard(a, answer)));
  const answer = async (approval, decision) => {
    try {
      await decide(id, approval, decision);
      pending.delete(approval.id);
      renderApprovals();
    } catch (error) {
      notice.replaceChildren(problemBox(error));
    }
  };
  const loadApprovals = async () => {
    const list = await get(`/sessions/${id}/approvals?status=pending&limit=100`);
    const ids = list.items.map((a) => a.id).join();
    if (ids === [...pending.keys()].join()) return;
    pending.clear();
    for (const approval of list.items) pending.set(approval.id, approval);
    renderApprovals();
  };

  const act = (label, path, confirmText) => h('button', {
    class: 'secondary outline',
    onclick: async () => {
      if (confirmText && !confirm(confirmText)) return;
      try {
        await post(`/sessions/${id}/${path}`);
        await reload();
      } catch (error) {
        notice.replaceChildren(problemBox(error));
      }
    },
  }, label);
  const input = h('textarea', { name: 'content', rows: 2, placeholder: 'Message the agent…' });
  const composer = h('form', {
    onsubmit: async (event) => {
      event.preventDefault();
      if (!input.value.trim()) return;
      try {
        await post(`/sessions/${id}/messages`, { content: input.value });
        input.value = '';
        notice.replaceChildren();
      } catch (error) {
        notice.replaceChildren(problemBox(error));
      }
    },
  }, input, h('div', { class: 'row' },
    h('button', { type: 'submit' }, 'Send'),
    act('Interrupt', 'interrupt'),
    act('Terminate', 'terminate', 'End this session? Its agent stops.'),
    act('Archive', 'archive', 'Archive this session?')));

  const stream = follow(id, {
    onFrame: (frame) => {
      switch (frame.kind) {
        case 'message': {
          const view = messageView(frame.sequence, frame.message ?? frame.payload, messages);
          if (view) messages.append(view);
          if ((frame.message ?? frame.payload).message_type === 'result') reload();
          break;
        }
        case 'approval':
          loadApprovals();
          refreshBadge();
          break;
        case 'status':
        case 'agent':
        case 'turn_failed':
          reload();
          if (frame.payload?.reason) notice.replaceChildren(h('div', { class: 'error-box' }, frame.payload.reason));
          break;
        default:
          break;
      }
    },
    onState: (state) => {
      connection.textContent = state;
      connection.dataset.state = state;
      // Whatever happened while the connection was down (approvals, status) is read again.
      if (state === 'live') {
        reload();
        loadApprovals();
      }
    },
  });
  connection.addEventListener('click', () => stream.drop());
  // Approvals answered elsewhere (another tab, the CLI) disappear here too.
  const onBadge = () => loadApprovals();
  window.addEventListener('overseer:approvals', onBadge);
  onLeave(() => {
    stream.stop();
    window.removeEventListener('overseer:approvals', onBadge);
  });
  renderHeader();
  return h('section', {}, header, notice, approvals, messages, composer);
}

