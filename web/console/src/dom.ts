/** Small DOM helpers: element building, the modal dialog, the error banner. */

type Attrs = Record<string, string | boolean | number | ((e: Event) => void) | undefined>;
type Child = Node | string | null | undefined | false;

/** h('button', {class: 'x', onclick: f}, 'text'): an element with attributes, handlers and children. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: (Child | Child[])[]
): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    if (typeof v === 'function') e.addEventListener(k.replace(/^on/, ''), v);
    else if (v === true) e.setAttribute(k, '');
    else e.setAttribute(k, String(v));
  }
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) e.append(c);
  return e;
}

export const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;

export interface Field {
  name: string;
  label: string;
  value?: string;
  /** A regular expression the value must match (the API's name pattern, say). */
  pattern?: string;
  options?: string[];
}

/**
 * Asks in the page's modal dialog: a question with OK/Cancel, optionally with fields. Resolves to
 * the fields' values on OK, undefined on Cancel or Escape.
 */
export function ask(text: string, fields: Field[] = [], okLabel = 'OK'): Promise<Record<string, string> | undefined> {
  const dialog = $<HTMLDialogElement>('dialog');
  $('dialog-text').textContent = text;
  const box = $('dialog-fields');
  box.replaceChildren(
    ...fields.map((f) =>
      h(
        'label',
        {},
        f.label,
        f.options
          ? h(
              'select',
              { name: f.name },
              ...f.options.map((o) => h('option', { value: o, selected: o === f.value }, o)),
            )
          : h('input', { name: f.name, value: f.value ?? '', required: true, pattern: f.pattern, autocomplete: 'off' }),
      ),
    ),
  );
  $('dialog-ok').textContent = okLabel;
  const form = dialog.querySelector('form')!;
  return new Promise((resolve) => {
    dialog.addEventListener(
      'close',
      () => {
        if (dialog.returnValue !== 'ok') return resolve(undefined);
        const values: Record<string, string> = {};
        for (const el of form.querySelectorAll<HTMLInputElement | HTMLSelectElement>('input, select'))
          values[el.name] = el.value;
        resolve(values);
      },
      { once: true },
    );
    dialog.returnValue = '';
    dialog.showModal();
    (box.querySelector('input') ?? $('dialog-ok')).focus();
  });
}

/** Shows a message in the red banner (click to dismiss); empty hides it. */
export function showError(message: string): void {
  const banner = $('error');
  banner.textContent = message;
  banner.hidden = !message;
}
