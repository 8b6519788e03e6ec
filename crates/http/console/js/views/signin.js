import { keep, post } from '../api.js';
import { h, problemBox, show } from '../dom.js';

/** The sign-in form; on success, goes on to `next`. */
export function signIn(next) {
  const error = h('div');
  const email = h('input', { type: 'email', name: 'email', autocomplete: 'username', required: true });
  const password = h('input', { type: 'password', name: 'password', autocomplete: 'current-password', required: true });
  const submit = async (event, register) => {
    event.preventDefault();
    error.replaceChildren();
    const credentials = { email: email.value, password: password.value };
    try {
      if (register) await post('/auth/register', credentials);
      keep(await post('/auth/login', credentials));
      location.hash = `#${next}`;
      window.dispatchEvent(new Event('hashchange'));
    } catch (e) {
      error.replaceChildren(problemBox(e));
    }
  };
  const form = h('form', { onsubmit: (e) => submit(e, false) },
    h('label', {}, 'Email', email),
    h('label', {}, 'Password', password),
    error,
    h('div', { class: 'row' },
      h('button', { type: 'submit' }, 'Sign in'),
      h('button', { type: 'button', class: 'secondary outline', onclick: (e) => submit(e, true) }, 'Create account')));
  show(h('article', {},
    h('header', {}, h('h2', {}, 'Sign in to Overseer')),
    form,
    h('footer', { class: 'muted' }, 'The first account created on a server is its admin.')));
  email.focus();
}
