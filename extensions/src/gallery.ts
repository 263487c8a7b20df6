// The sidebar panel: guides and cases grouped by role, then the demo datasets.

import { Widget } from '@lumino/widgets';

import { IGallery, IItem } from './api';

const KIND_LABEL: Record<IItem['kind'], string> = { guide: 'Guide', case: 'Case study' };

function element<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className: string,
  text?: string
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  node.className = className;
  if (text !== undefined) {
    node.textContent = text;
  }
  return node;
}

export class GalleryPanel extends Widget {
  /** `open(id, title)` copies the item into the working folder and opens the copy. */
  constructor(private readonly open: (id: string, title: string) => Promise<void>) {
    super();
    this.id = 'workbench-gallery';
    this.addClass('jp-WorkbenchGallery');
  }

  /** Show why there is nothing to list, instead of an empty panel. */
  showError(message: string): void {
    this.node.replaceChildren(
      element('h2', 'jp-WorkbenchGallery-heading', 'Funnel Workbench'),
      element('p', 'jp-WorkbenchGallery-error', message)
    );
  }

  render(gallery: IGallery): void {
    const intro = element(
      'p',
      'jp-WorkbenchGallery-intro',
      'Pick your role. Each guide and case opens as your own copy in the working ' +
        'folder, so the originals stay as they are: run, edit and save freely.'
    );
    const sections: HTMLElement[] = [];
    for (const role of gallery.roles) {
      const items = gallery.items.filter(item => item.role === role.id);
      if (items.length === 0) {
        continue;
      }
      const section = this.section(role.label, `role-${role.id}`);
      for (const item of items) {
        section.list.append(this.entry(item.id, item.title, item.summary, KIND_LABEL[item.kind]));
      }
      sections.push(section.node);
    }
    if (gallery.datasets.length > 0) {
      const section = this.section('Demo datasets', 'datasets');
      for (const dataset of gallery.datasets) {
        section.list.append(
          this.entry(dataset.id, dataset.title, dataset.summary, 'Starter notebook')
        );
      }
      sections.push(section.node);
    }
    this.node.replaceChildren(
      element('h2', 'jp-WorkbenchGallery-heading', 'Funnel Workbench'),
      intro,
      ...sections
    );
    if (gallery.problems.length > 0) {
      // For the authors of the notebooks: what keeps a notebook out of the gallery.
      const details = element('details', 'jp-WorkbenchGallery-problems');
      details.append(
        element('summary', '', `${gallery.problems.length} notebook(s) not listed`),
        ...gallery.problems.map(problem => element('p', '', problem))
      );
      this.node.append(details);
    }
  }

  private section(title: string, name: string): { node: HTMLElement; list: HTMLElement } {
    const node = element('section', 'jp-WorkbenchGallery-section');
    node.dataset.section = name;
    const list = element('ul', 'jp-WorkbenchGallery-list');
    node.append(element('h3', 'jp-WorkbenchGallery-sectionTitle', title), list);
    return { node, list };
  }

  private entry(id: string, title: string, summary: string, badge: string): HTMLElement {
    const button = element('button', 'jp-WorkbenchGallery-item');
    button.type = 'button';
    button.dataset.workbenchId = id;
    button.title = `Open a copy of ${title}`;
    button.append(
      element('span', 'jp-WorkbenchGallery-badge', badge),
      element('span', 'jp-WorkbenchGallery-title', title),
      element('span', 'jp-WorkbenchGallery-summary', summary)
    );
    const item = element('li', '');
    item.append(button);
    button.addEventListener('click', () => {
      // One copy per click: a double click must not make two.
      button.disabled = true;
      item.querySelector('[role="alert"]')?.remove();
      this.open(id, title)
        .catch((error: Error) => {
          // The notification shows only the start of a long message: the whole of it goes here.
          const problem = element('p', 'jp-WorkbenchGallery-error', error.message);
          problem.setAttribute('role', 'alert');
          item.append(problem);
          problem.scrollIntoView({ block: 'nearest' });
        })
        .finally(() => {
          button.disabled = false;
        });
    });
    return item;
  }
}
