// The task form (create and edit) and the execute form generated from a task's variables.
import { h, json, problemBox } from '../dom.js';

const FORMATS = ['markdown', 'html', 'json', 'pdf'];

let fields = 0;

/** A labelled input with its hint and the slot for its error; the hint is not in its name. */
export function field(label, input, hint) {
  fields += 1;
  const id = input.id || `field-${input.name}-${fields}`;
  input.id = id;
  if (hint) input.setAttribute('aria-describedby', `${id}-hint`);
  return h('div', {},
    h('label', { for: id }, label),
    input,
    hint ? h('small', { id: `${id}-hint` }, hint) : null,
    h('small', { class: 'field-error', 'data-error-for': input.name }));
}

/** Writes a problem's field errors beside their inputs; the rest in `box`. */
export function showErrors(form, box, error) {
  for (const slot of form.querySelectorAll('[data-error-for]')) slot.textContent = '';
  box.replaceChildren(problemBox(error));
  for (const { field: name, message } of error?.problem?.errors ?? []) {
    const root = name.split(/[.[]/)[0];
    const slot = form.querySelector(`[data-error-for="${root}"]`);
    if (slot) slot.textContent = `${name}: ${message}`;
  }
}

function parseJson(form, name, text) {
  try {
    return JSON.parse(text || 'null');
  } catch (e) {
    const error = { problem: { title: 'Invalid JSON', detail: `${name}: ${e.message}`, errors: [{ field: name, message: 'not valid JSON' }] } };
    throw error;
  }
}

/**
 * A form for `task` (or a new one). `onSave(body)` gets the request body; whatever it
 * throws is shown on the form.
 */
export function taskForm(task, onSave) {
  const inputs = {
    name: h('input', { name: 'name', required: true, value: task?.name ?? '' }),
    description: h('input', { name: 'description', value: task?.description ?? '' }),
    prompt_template: h('textarea', { name: 'prompt_template', rows: 4, required: true }),
    variables: h('textarea', { name: 'variables', rows: 4, class: 'code' }),
    sdk_options: h('textarea', { name: 'sdk_options', rows: 6, class: 'code' }),
    generate_report: h('input', { type: 'checkbox', role: 'switch', name: 'generate_report', checked: task?.generate_report ?? false }),
    report_format: h('select', { name: 'report_format' },
      FORMATS.map((f) => h('option', { value: f, selected: (task?.report_format ?? 'markdown') === f }, f))),
    schedule: h('input', { name: 'schedule', placeholder: '0 6 * * *', value: task?.schedule ?? '' }),
    schedule_timezone: h('input', { name: 'schedule_timezone', placeholder: 'UTC', value: task?.schedule_timezone ?? '' }),
  };
  inputs.prompt_template.value = task?.prompt_template ?? '';
  inputs.variables.value = json(task?.variables ?? []);
  inputs.sdk_options.value = json(task?.sdk_options ?? {});
  const errors = h('div');
  const form = h('form', {
    onsubmit: async (event) => {
      event.preventDefault();
      try {
        const body = {
          name: inputs.name.value,
          description: inputs.description.value || null,
          prompt_template: inputs.prompt_template.value,
          variables: parseJson(form, 'variables', inputs.variables.value) ?? [],
          sdk_options: parseJson(form, 'sdk_options', inputs.sdk_options.value) ?? {},
          generate_report: inputs.generate_report.checked,
          report_format: inputs.report_format.value,
          schedule: inputs.schedule.value || null,
          schedule_timezone: inputs.schedule_timezone.value || null,
        };
        await onSave(body);
      } catch (error) {
        showErrors(form, errors, error);
      }
    },
  },
  field('Name', inputs.name),
  field('Description', inputs.description),
  field('Prompt template', inputs.prompt_template, 'Write {variable} where a value goes.'),
  field('Variables', inputs.variables,
    'A JSON list: {"name": "cluster_name", "type": "string" | "integer" | "boolean" | "enum", "values"?, "required"?, "default"?, "description"?}'),
  field('Agent options', inputs.sdk_options,
    'JSON: allowed_tools, ask_tools, disallowed_tools, model, max_turns, max_budget_usd, system_prompt, output_format, agents, effort, … (see /docs)'),
  h('fieldset', {},
    h('legend', {}, 'Report'),
    h('label', {}, inputs.generate_report, 'Write a report when a run ends'),
    field('Format', inputs.report_format)),
  h('div', { class: 'grid' },
    field('Schedule (cron)', inputs.schedule, 'Empty: run only on demand.'),
    field('Time zone', inputs.schedule_timezone)),
  errors,
  h('button', { type: 'submit' }, task ? 'Save' : 'Create task'));
  return form;
}

function variableInput(spec) {
  const name = spec.name;
  const common = { name, id: `var-${name}`, required: spec.required ?? false };
  switch (spec.type) {
    case 'integer':
      return h('input', { ...common, type: 'number', step: 1, value: spec.default ?? '' });
    case 'boolean':
      return h('input', { ...common, type: 'checkbox', role: 'switch', required: false, checked: spec.default === true });
    case 'enum':
      return h('select', common, (spec.values ?? []).map((v) => h('option', { value: v, selected: spec.default === v }, v)));
    default:
      return h('input', { ...common, type: 'text', value: spec.default ?? '' });
  }
}

function variableValue(spec, input) {
  switch (spec.type) {
    case 'integer': return input.value === '' ? undefined : Number.parseInt(input.value, 10);
    case 'boolean': return input.checked;
    default: return input.value === '' && !spec.required ? undefined : input.value;
  }
}

/** The execute form: one input per declared variable; `onRun(variables)`. */
export function executeForm(task, onRun) {
  const specs = task.variables ?? [];
  const inputs = specs.map((spec) => [spec, variableInput(spec)]);
  const errors = h('div');
  const form = h('form', {
    onsubmit: async (event) => {
      event.preventDefault();
      const variables = {};
      for (const [spec, input] of inputs) {
        const value = variableValue(spec, input);
        if (value !== undefined) variables[spec.name] = value;
      }
      try {
        await onRun(variables);
      } catch (error) {
        showErrors(form, errors, error);
      }
    },
  },
  inputs.map(([spec, input]) => field(spec.name, input, spec.description)),
  specs.length === 0 ? h('p', { class: 'muted' }, 'This task takes no variables.') : null,
  errors,
  h('button', { type: 'submit' }, 'Run'));
  return form;
}
