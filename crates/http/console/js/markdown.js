// Markdown from the agent, rendered with marked and sanitised with DOMPurify before it
// reaches the page.
import { marked } from '/console/vendor/marked.esm.js';
import DOMPurify from '/console/vendor/purify.es.mjs';

marked.setOptions({ gfm: true, breaks: false });

// Links the agent writes open in a new tab and send no referrer.
DOMPurify.addHook('afterSanitizeAttributes', (node) => {
  if (node.tagName === 'A') {
    node.setAttribute('target', '_blank');
    node.setAttribute('rel', 'noopener noreferrer');
  }
  if (node.tagName === 'IMG') {
    // An image from elsewhere would leave this origin: keep its text only.
    const src = node.getAttribute('src') ?? '';
    if (!src.startsWith('data:')) node.removeAttribute('src');
  }
});

/** A sanitised element holding `text` rendered as markdown. */
export function markdown(text) {
  const div = document.createElement('div');
  div.className = 'markdown';
  div.innerHTML = DOMPurify.sanitize(marked.parse(text ?? ''));
  return div;
}
