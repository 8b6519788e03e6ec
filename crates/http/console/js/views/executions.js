// Executions: every run across tasks (live while any is running), and one run with its
// session's transcript.
import { get, post } from '../api.js';
import { fill, h, problemBox, show, statusBadge, table, time, duration, usd, sleep } from '../dom.js';
import { onLeave } from '../shell.js';
import { transcriptView } from './transcript.js';

const ENDED = ['completed', 'failed', 'cancelled'];

async function costs(runs) {
  const sessions = await Promise.all(runs.map((run) => (run.session_id
    ? get(`/sessions/${run.session_id}`).catch(() => null)
    : null)));
  return sessions.map((session) => session?.total_cost_usd);
}

export async function executionList() {
  let timer = null;
  onLeave(() => clearTimeout(timer));
  const tasks = new Map((await get('/tasks?limit=100')).items.map((t) => [t.id, t.name]));
  const render = async () => {
    const runs = (await get('/task-executions?limit=20')).items;
    const cost = await costs(runs);
    show(h('h2', {}, 'Executions'),
      table(['Task', 'Status', 'Trigger', 'Started', 'Duration', 'Cost', ''], runs.map((run, i) => [
        h('a', { href: `#/executions/${run.id}` }, tasks.get(run.task_id) ?? run.task_id.slice(0, 8)),
        statusBadge(run.status), run.trigger_type, time(run.started_at ?? run.created_at),
        duration(run.duration_seconds), usd(cost[i]),
        ENDED.includes(run.status) ? (run.report_id ? h('a', { href: `#/reports/${run.report_id}` }, 'report') : '')
          : h('button', { class: 'secondary outline', onclick: async () => { await post(`/task-executions/${run.id}/cancel`); render(); } }, 'Cancel'),
      ]), 'No runs yet.'));
    if (runs.some((run) => !ENDED.includes(run.status))) timer = setTimeout(render, 2000);
  };
  await render();
}

export async function executionDetail(id) {
  let left = false;
  onLeave(() => { left = true; });
  let run = await get(`/task-executions/${id}`);
  const summary = h('div');
  const renderSummary = () => fill(summary,
    h('div', { class: 'row spread' },
      h('h2', {}, 'Run'),
      h('div', { class: 'row' }, statusBadge(run.status),
        ENDED.includes(run.status) ? null
          : h('button', { class: 'secondary outline', onclick: async () => {
            try { run = await post(`/task-executions/${id}/cancel`); renderSummary(); } catch (e) { summary.append(problemBox(e)); }
          } }, 'Cancel'))),
    h('div', { class: 'stats' },
      h('a', { href: `#/tasks/${run.task_id}` }, 'task'),
      h('span', {}, `trigger ${run.trigger_type}`),
      h('span', {}, 'started ', time(run.started_at)),
      run.duration_seconds != null ? h('span', {}, `took ${duration(run.duration_seconds)}`) : null,
      run.report_id ? h('a', { href: `#/reports/${run.report_id}`, 'data-report': run.report_id }, 'Open report') : null),
    run.error_message ? h('div', { class: 'error-box' }, run.error_message) : null);
  renderSummary();
  const body = h('div', {}, h('p', { 'aria-busy': 'true' }, 'Waiting for the agent…'));
  show(summary, body);
  // The run gets its session when it starts; then its transcript is followed live, and the
  // run re-read until it ends (and its report is written).
  while (!left && !run.session_id && !ENDED.includes(run.status)) {
    await sleep(500);
    run = await get(`/task-executions/${id}`);
    renderSummary();
  }
  if (left) return;
  if (run.session_id) body.replaceChildren(await transcriptView(run.session_id));
  else body.replaceChildren();
  while (!left && !ENDED.includes(run.status)) {
    await sleep(1000);
    run = await get(`/task-executions/${id}`);
    renderSummary();
  }
  // A report, when the task asks for one, is written just after the run ends.
  for (let i = 0; i < 20 && !left && run.status === 'completed' && !run.report_id; i += 1) {
    await sleep(500);
    run = await get(`/task-executions/${id}`);
  }
  if (!left) renderSummary();
}
