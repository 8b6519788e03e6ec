// Browser end-to-end test of the web console, driven by `cargo test` (tests/e2e/console.rs)
// against a running server whose agents are the real CLI and whose model is scripted.
//
// Env: OVERSEER_URL (the server), CHROMIUM (the browser binary), SCREENSHOTS (a folder).
// Fails (exit 1) on the first broken step, and on any request that leaves 127.0.0.1.
import { chromium } from 'playwright-core';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

const BASE = process.env.OVERSEER_URL;
const SHOTS = process.env.SCREENSHOTS;
mkdirSync(SHOTS, { recursive: true });
const PASSWORD = 'correct horse battery';
const STEP_TIMEOUT = 30_000;

const external = [];
/** Every request of every page in `context` must stay on 127.0.0.1. */
async function guard(context) {
  await context.route('**/*', (route) => {
    const url = new URL(route.request().url());
    if (url.hostname !== '127.0.0.1') {
      external.push(url.href);
      return route.abort('blockedbyclient');
    }
    return route.continue();
  });
}

function step(name) {
  console.log(`--- ${name}`);
}

async function signUp(page, email) {
  await page.goto(`${BASE}/`);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.locator('#nav').waitFor({ state: 'visible' });
  // Signing up lands on the tasks: wait for them, so the next step's navigation comes after.
  await page.getByRole('heading', { name: 'Tasks' }).waitFor();
}

async function signIn(page, email, next = '') {
  await page.goto(`${BASE}/${next}`);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.locator('#nav').waitFor({ state: 'visible' });
}

async function createTask(page, task) {
  await page.goto(`${BASE}/#/tasks`);
  await page.getByRole('button', { name: 'New task' }).click();
  await page.getByLabel('Name').fill(task.name);
  await page.getByLabel('Prompt template').fill(task.prompt_template);
  await page.getByLabel('Variables').fill(JSON.stringify(task.variables));
  await page.getByLabel('Agent options').fill(JSON.stringify(task.sdk_options));
  await page.getByLabel('Write a report when a run ends').check();
  await page.getByLabel('Format').selectOption('markdown');
}

/** The execution page's status, as its badge shows it. */
async function runStatus(page) {
  return page.locator('#view .status').first().getAttribute('data-status');
}

async function waitForStatus(page, status) {
  await page.locator(`#view .status[data-status="${status}"]`).first().waitFor({ timeout: STEP_TIMEOUT });
}

/** The sequences of the messages the page shows: each once, in order. */
async function shownSequences(page) {
  const sequences = await page.locator('.transcript .message').evaluateAll(
    (nodes) => nodes.map((n) => Number(n.dataset.sequence)),
  );
  assert.deepEqual(sequences, [...new Set(sequences)].sort((a, b) => a - b), 'each message once, in order');
  return sequences;
}

async function apiGet(page, path) {
  return page.evaluate(async (p) => {
    const res = await fetch(`/api/v1${p}`, {
      headers: { authorization: `Bearer ${sessionStorage.getItem('overseer.access_token')}` },
    });
    return res.json();
  }, path);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM,
  args: ['--no-sandbox', '--disable-dev-shm-usage'],
});
try {
  const desk = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  await guard(desk);
  const page = await desk.newPage();
  page.setDefaultTimeout(STEP_TIMEOUT);
  const pageErrors = [];
  page.on('pageerror', (error) => pageErrors.push(String(error)));

  step('sign in (the first account is the admin)');
  await signUp(page, 'alice@example.com');
  await page.getByRole('heading', { name: 'Tasks' }).waitFor();
  step('sign out, and in again');
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('heading', { name: 'Sign in to Overseer' }).waitFor();
  assert.equal(await page.evaluate(() => sessionStorage.length), 0, 'signing out forgets the tokens');
  await signIn(page, 'alice@example.com');

  step('create the seed task');
  await createTask(page, {
    name: 'Kubernetes Cluster Health Check',
    prompt_template: 'Check the health of the {cluster_name} cluster.',
    variables: [{ name: 'cluster_name', type: 'string', description: 'which cluster' }],
    sdk_options: { allowed_tools: ['Bash'], max_turns: 5 },
  });
  await page.screenshot({ path: join(SHOTS, 'task-form.png'), fullPage: true });
  await page.getByRole('button', { name: 'Create task' }).click();
  await page.getByRole('heading', { name: 'Kubernetes Cluster Health Check' }).waitFor();

  step('a bad field is named on the form, nothing is saved');
  await page.getByText('Edit', { exact: true }).click();
  const edit = page.locator('details form');
  await edit.getByLabel('Agent options').fill('{"max_turns": -1}');
  await edit.getByRole('button', { name: 'Save' }).click();
  await edit.locator('[data-error-for="sdk_options"]').filter({ hasText: 'sdk_options' }).waitFor();
  const stored = await apiGet(page, '/tasks?limit=10');
  assert.equal(stored.items[0].sdk_options.max_turns, 5, 'the refused edit changed nothing');

  step('execute it with cluster_name=production and watch it live');
  await page.getByLabel('cluster_name').fill('production');
  await page.getByRole('button', { name: 'Run' }).click();
  await page.locator('.transcript .tool-call').first().waitFor();
  assert.equal(await runStatus(page), 'running', 'the tool call is shown while the run is still going');
  step('a dropped stream resumes without gaps or duplicates');
  const connection = page.locator('button[data-state]');
  await connection.click();
  await page.locator('button[data-state="live"]').waitFor();
  await waitForStatus(page, 'completed');
  await page.locator('.message.assistant').filter({ hasText: 'All pods in production are healthy' }).waitFor();
  await page.locator('.tool-call summary').first().click();
  await page.locator('.tool-output').filter({ hasText: 'api-0 1/1 Running' }).waitFor();
  const sessionId = await page.locator('.transcript').getAttribute('data-session-id');
  const shown = await shownSequences(page);
  const stored_messages = await apiGet(page, `/sessions/${sessionId}/messages?limit=100`);
  const worth = stored_messages.items
    .filter((m) => m.blocks.some((b) => b.type !== 'tool_result') || m.message_type === 'result')
    .map((m) => m.sequence_number);
  assert.deepEqual(shown, worth, 'every stored message with something to show is shown, once');
  await page.getByRole('link', { name: 'Open report' }).waitFor();
  await page.screenshot({ path: join(SHOTS, 'live-session.png'), fullPage: true });

  step('open its report, and write it again as HTML (shown in a sandboxed frame)');
  await page.getByRole('link', { name: 'Open report' }).click();
  await page.locator('.report-body').filter({ hasText: 'production' }).waitFor();
  await page.getByRole('button', { name: 'html', exact: true }).click();
  await page.frameLocator('iframe.report').locator('body').filter({ hasText: 'production' }).waitFor();
  assert.equal(await page.locator('iframe.report').getAttribute('sandbox'), '', 'the report runs no script');

  step('the executions list: status, trigger, duration and cost');
  await page.goto(`${BASE}/#/executions`);
  const row = page.locator('tr', { has: page.getByRole('link', { name: 'Kubernetes Cluster Health Check' }) });
  await row.locator('.status[data-status="completed"]').waitFor();
  assert.match(await row.innerText(), /api[\s\S]*\$0\.\d{4}/, 'trigger and cost are shown');

  step('an interactive session: send a message, read the answer');
  await page.goto(`${BASE}/#/sessions`);
  await page.getByPlaceholder('Name of a new conversation').fill('console chat');
  await page.getByRole('button', { name: 'New session' }).click();
  await page.getByRole('heading', { name: 'console chat' }).waitFor();
  await page.getByPlaceholder('Message the agent…').fill('hello console');
  await page.getByRole('button', { name: 'Send' }).click();
  await page.locator('.message.assistant').filter({ hasText: 'Hi from the console agent.' }).waitFor();
  await page.locator('.message.user').filter({ hasText: 'hello console' }).waitFor();

  step('a task whose tool asks: approve it by clicking');
  await createTask(page, {
    name: 'Deploy with approval',
    prompt_template: 'Deploy the {service} service.',
    variables: [{ name: 'service', type: 'enum', values: ['web', 'api'] }],
    sdk_options: { ask_tools: ['Bash'], max_turns: 5 },
  });
  await page.getByRole('button', { name: 'Create task' }).click();
  await page.getByRole('heading', { name: 'Deploy with approval' }).waitFor();
  const deployTask = page.url();
  await page.getByLabel('service').selectOption('web');
  await page.getByRole('button', { name: 'Run' }).click();
  const card = page.locator('.approvals .approval');
  await card.waitFor();
  assert.match(await card.innerText(), /deployed web/);
  await page.locator('#approvals-badge', { hasText: '1' }).waitFor();
  const runPage = page.url();
  await page.getByRole('link', { name: /Approvals/ }).click();
  await page.locator('article.approval').waitFor();
  await page.screenshot({ path: join(SHOTS, 'approvals.png'), fullPage: true });
  await page.locator('article.approval').getByRole('button', { name: 'Approve' }).click();
  await page.getByText('Nothing is waiting for you.').waitFor();
  await page.locator('td .status[data-status="allowed"]').waitFor();
  await page.goto(runPage);
  await waitForStatus(page, 'completed');
  await page.locator('.tool-output').filter({ hasText: 'deployed web' }).waitFor({ state: 'attached' });
  await page.getByRole('link', { name: 'Open report' }).click();
  await page.locator('.report-body').filter({ hasText: 'Deployed' }).waitFor();

  step('audit log: the decision is there, filtered by action');
  await page.goto(`${BASE}/#/audit`);
  await page.getByLabel('Action').fill('tool.permission_granted');
  await page.getByRole('button', { name: 'Filter' }).click();
  await page.locator('td code', { hasText: 'tool.permission_granted' }).first().waitFor();

  step('admin: the users and their quotas');
  await page.goto(`${BASE}/#/admin`);
  await page.locator('td', { hasText: 'alice@example.com' }).waitFor();

  step('notifications: add a target, its secret shown once');
  await page.goto(`${BASE}/#/notifications`);
  await page.getByText('Add a target').click();
  await page.getByLabel('URL').fill('http://127.0.0.1:9/hook');
  await page.getByRole('button', { name: 'Add target' }).click();
  const secret = await page.locator('code[data-secret]').innerText();
  assert.match(secret, /^whsec_/);
  await page.locator('td code', { hasText: 'http://127.0.0.1:9/hook' }).waitFor();

  step('a phone-sized screen can approve');
  const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
  await guard(phone);
  const mobile = await phone.newPage();
  mobile.setDefaultTimeout(STEP_TIMEOUT);
  mobile.on('pageerror', (error) => pageErrors.push(String(error)));
  await signIn(mobile, 'alice@example.com', deployTask.slice(deployTask.indexOf('#')));
  await mobile.getByLabel('service').selectOption('api');
  await mobile.getByRole('button', { name: 'Run' }).click();
  const phoneCard = mobile.locator('.approvals .approval');
  await phoneCard.waitFor();
  await mobile.screenshot({ path: join(SHOTS, 'phone-approval.png'), fullPage: false });
  await phoneCard.getByRole('button', { name: 'Approve' }).tap();
  await waitForStatus(mobile, 'completed');
  await mobile.locator('.tool-output').filter({ hasText: 'deployed api' }).waitFor({ state: 'attached' });
  const width = await mobile.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(width <= 390, `no sideways scrolling on a phone (page is ${width}px wide)`);

  step('the target shows the approval it could not deliver, with the reason');
  await page.goto(`${BASE}/#/notifications`);
  await page.getByRole('button', { name: 'Deliveries' }).click();
  const undelivered = page.locator('#deliveries tr', { hasText: 'approval.requested' }).first();
  await undelivered.locator('.status[data-status="pending"]').waitFor();
  await page.screenshot({ path: join(SHOTS, 'notifications.png'), fullPage: true });

  step('a stranger sees "not found" at alice\'s session');
  const other = await browser.newContext();
  await guard(other);
  const stranger = await other.newPage();
  stranger.setDefaultTimeout(STEP_TIMEOUT);
  await signUp(stranger, 'stranger@example.com');
  await stranger.goto(`${BASE}/#/sessions/${sessionId}`);
  await stranger.getByRole('heading', { name: 'Not found' }).waitFor();

  assert.deepEqual(pageErrors, [], 'no script error on any page');
  assert.deepEqual(external, [], 'no request left 127.0.0.1');
  console.log('console: all steps passed');
} catch (error) {
  // What each open page showed when the step failed.
  for (const [i, open] of browser.contexts().flatMap((c) => c.pages()).entries()) {
    await open.screenshot({ path: join(SHOTS, `failure-${i}.png`), fullPage: true }).catch(() => {});
    console.log(`page ${i} at ${open.url()} (screenshot failure-${i}.png)`);
  }
  throw error;
} finally {
  await browser.close();
}
