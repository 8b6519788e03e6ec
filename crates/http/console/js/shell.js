// What views share with the shell: cleanup on navigation, and the approvals badge.
import { get, signedIn } from './api.js';

// Whatever the current view started (a live stream, a timer) is stopped on navigation.
let cleanups = [];

/** Registers `fn` to run when the user leaves the current view. */
export function onLeave(fn) {
  cleanups.push(fn);
}

/** Runs and forgets the current view's cleanups. */
export function leave() {
  for (const fn of cleanups.splice(0)) fn();
}

/**
 * Re-reads the pending approvals into the badge and announces them
 * (`overseer:approvals`), so every view showing approvals follows.
 */
export async function refreshBadge() {
  if (!signedIn()) return;
  try {
    const pending = await get('/approvals?status=pending&limit=100');
    const badge = document.getElementById('approvals-badge');
    badge.textContent = String(pending.total);
    badge.hidden = pending.total === 0;
    window.dispatchEvent(new CustomEvent('overseer:approvals', { detail: pending }));
  } catch { /* shown on the next view */ }
}
