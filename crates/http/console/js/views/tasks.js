// Tasks: the list, a new one, and one task (edit, run, its runs).
import { api, get, post } from '../api.js';
import { h, show, statusBadge, table, time, duration } from '../dom.js';
import { taskForm, executeForm } from './task_form.js';

export async function taskList() {
  const tasks = await get('/tasks?limit=100');
  show(
    h('div', { class: 'row spread' }, h('h2', {}, 'Tasks'), h('a', { href: '#/tasks/new', role: 'button' }, 'New task')),
    table(['Name', 'Variables', 'Report', 'Schedule', 'Updated'], tasks.items.map((task) => [
      h('a', { href: `#/tasks/${task.id}` }, task.name),
      (task.variables ?? []).map((v) => v.name).join(', '),
      task.generate_report ? task.report_format : '—',
      task.schedule ?? '—',
      time(task.updated_at),
    ]), 'No tasks yet: create one.'));
}

export function taskNew() {
  show(h('h2', {}, 'New task'), taskForm(null, async (body) => {
    const task = await post('/tasks', body);
    location.hash = `#/tasks/${task.id}`;
  }));
}

export async function taskDetail(id) {
  const [task, runs] = await Promise.all([get(`/tasks/${id}`), get(`/tasks/${id}/executions?limit=20`)]);
  const edit = taskForm(task, async (body) => {
    await api('PATCH', `/tasks/${id}`, { ...body, expected_version: task.version });
    await taskDetail(id);
  });
  show(
    h('div', { class: 'row spread' }, h('h2', {}, task.name), h('span', { class: 'muted' }, `version ${task.version}`)),
    h('article', {},
      h('header', {}, h('h3', {}, 'Run')),
      h('p', { class: 'muted' }, task.prompt_template),
      executeForm(task, async (variables) => {
        const run = await post(`/tasks/${id}/execute`, { variables });
        location.hash = `#/executions/${run.id}`;
      })),
    h('h3', {}, 'Runs'),
    table(['Status', 'Trigger', 'Started', 'Duration', ''], runs.items.map((run) => [
      statusBadge(run.status), run.trigger_type, time(run.started_at ?? run.created_at),
      duration(run.duration_seconds), h('a', { href: `#/executions/${run.id}` }, 'open'),
    ]), 'Not run yet.'),
    h('details', {}, h('summary', {}, 'Edit'), edit),
    h('button', {
      class: 'secondary outline',
      onclick: async () => {
        if (!confirm(`Delete the task "${task.name}"?`)) return;
        await api('DELETE', `/tasks/${id}`);
        location.hash = '#/tasks';
      },
    }, 'Delete task'));
}
