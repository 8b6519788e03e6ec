// A report: shown in the page (HTML in a sandboxed frame that runs no script, markdown
// rendered and sanitised, JSON as text), downloadable, and written again in another format.
import { call, get, post } from '../api.js';
import { h, problemBox, show, time } from '../dom.js';
import { markdown } from '../markdown.js';

const FORMATS = ['markdown', 'html', 'json', 'pdf'];

async function download(report) {
  const res = await call('GET', `/reports/${report.id}/download`);
  const blob = await res.blob();
  const url = URL.createObjectURL(blob);
  const link = h('a', { href: url, download: `report-${report.id}.${report.format === 'markdown' ? 'md' : report.format}` });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

async function content(report) {
  if (report.format === 'pdf') return h('p', { class: 'muted' }, 'A PDF: download it to read it.');
  const text = await (await call('GET', `/reports/${report.id}/download`)).text();
  switch (report.format) {
    case 'html': return h('iframe', { class: 'report', sandbox: '', srcdoc: text, title: report.title ?? 'report' });
    case 'markdown': return h('article', { class: 'report-body' }, markdown(text));
    default: return h('pre', { class: 'report-body' }, text);
  }
}

export async function reportView(id) {
  const report = await get(`/reports/${id}`);
  const notice = h('div');
  show(
    h('h2', {}, report.title ?? 'Report'),
    h('div', { class: 'stats' }, h('span', {}, report.format), time(report.created_at),
      h('a', { href: `#/sessions/${report.session_id}` }, 'session')),
    h('div', { class: 'row' },
      h('button', { onclick: () => download(report).catch((e) => notice.replaceChildren(problemBox(e))) }, `Download ${report.format}`),
      h('span', { class: 'muted' }, 'Write it again as:'),
      FORMATS.filter((f) => f !== report.format).map((format) => h('button', {
        class: 'secondary outline',
        onclick: async () => {
          try {
            const made = await post(`/sessions/${report.session_id}/reports`, { format });
            location.hash = `#/reports/${made.id}`;
          } catch (error) {
            notice.replaceChildren(problemBox(error));
          }
        },
      }, format))),
    notice,
    await content(report));
}
