// The console's shell: routes `#/…` to views, keeps the nav and the approvals badge.
import { currentUser, clearCurrentUser, forget, signedIn } from './api.js';
import { leave, refreshBadge } from './shell.js';
import { problemBox, show, h } from './dom.js';
import { signIn } from './views/signin.js';
import { taskList, taskDetail, taskNew } from './views/tasks.js';
import { executionList, executionDetail } from './views/executions.js';
import { sessionList, sessionDetail } from './views/sessions.js';
import { approvalList } from './views/approvals.js';
import { reportView } from './views/reports.js';
import { auditLog } from './views/audit.js';
import { admin } from './views/admin.js';
import { notificationTargets } from './views/notifications.js';

const routes = [
  [/^\/tasks$/, taskList],
  [/^\/tasks\/new$/, taskNew],
  [/^\/tasks\/([0-9a-f-]{36})$/, taskDetail],
  [/^\/executions$/, executionList],
  [/^\/executions\/([0-9a-f-]{36})$/, executionDetail],
  [/^\/sessions$/, sessionList],
  [/^\/sessions\/([0-9a-f-]{36})$/, sessionDetail],
  [/^\/approvals$/, approvalList],
  [/^\/reports\/([0-9a-f-]{36})$/, reportView],
  [/^\/audit$/, auditLog],
  [/^\/notifications$/, notificationTargets],
  [/^\/admin$/, admin],
];

// Counts navigations: a view whose navigation was overtaken while it waited does not draw
// over the newer one (signing in lands on the tasks while the user may already be elsewhere).
let navigation = 0;

async function route() {
  leave();
  const mine = ++navigation;
  const path = location.hash.replace(/^#/, '') || '/tasks';
  if (!signedIn()) {
    document.getElementById('nav').hidden = true;
    return signIn(path === '/signin' ? '/tasks' : path);
  }
  document.getElementById('nav').hidden = false;
  for (const link of document.querySelectorAll('#nav-links a')) {
    link.toggleAttribute('aria-current', path.startsWith(link.getAttribute('href').slice(1)));
  }
  try {
    const user = await currentUser();
    if (mine !== navigation) return;
    document.getElementById('admin-link').hidden = user.role !== 'admin';
    for (const [pattern, view] of routes) {
      const match = path.match(pattern);
      if (match) return await view(...match.slice(1));
    }
    show(h('h2', {}, 'Not found'), h('p', {}, 'There is no page at this address.'));
  } catch (error) {
    if (mine !== navigation) return;
    if (error.status === 404) {
      show(h('h2', {}, 'Not found'), h('p', {}, 'It does not exist, or it is not yours.'));
    } else if (error.status !== 401) {
      show(problemBox(error));
    }
  }
}

document.getElementById('sign-out').addEventListener('click', () => {
  forget();
  clearCurrentUser();
  location.hash = '#/signin';
  route();
});
window.addEventListener('overseer:signed-out', () => {
  clearCurrentUser();
  route();
});
window.addEventListener('hashchange', route);
setInterval(refreshBadge, 3000);
refreshBadge();
route();
