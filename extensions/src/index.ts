// Funnel Workbench in JupyterLab: a launcher section and a sidebar gallery of the shipped guides,
// case studies and demo datasets. Opening one asks the server extension for a copy in the working
// folder and opens that copy, so the shipped notebook is never edited or autosaved.

import {
  ILabShell,
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette, Notification } from '@jupyterlab/apputils';
import { ILauncher } from '@jupyterlab/launcher';
import { LabIcon } from '@jupyterlab/ui-components';

import { copyItem, fetchGallery, IGallery } from './api';
import { GalleryPanel } from './gallery';

const CATEGORY = 'Funnel Workbench';

namespace CommandIDs {
  export const open = 'workbench:open';
  export const showGallery = 'workbench:show-gallery';
}

const funnelIcon = new LabIcon({
  name: 'funnel-workbench:funnel',
  svgstr:
    '<svg xmlns="http://www.w3.org/2000/svg" width="16" viewBox="0 0 24 24">' +
    '<path class="jp-icon3" fill="#616161" d="M3 4h18l-7 8.5V18l-4 2.5v-8z"/></svg>'
});

function addToLauncher(launcher: ILauncher, gallery: IGallery): void {
  // The server lists the items in the gallery's order (by role, guides before cases).
  [...gallery.items, ...gallery.datasets].forEach((entry, index) => {
    launcher.add({
      command: CommandIDs.open,
      args: { id: entry.id, label: entry.title, caption: entry.summary },
      category: CATEGORY,
      rank: index + 1
    });
  });
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'funnel-workbench:gallery',
  description: 'The Funnel Workbench gallery of guides, case studies and demo datasets.',
  autoStart: true,
  requires: [ILabShell],
  optional: [ILauncher, ILayoutRestorer, ICommandPalette],
  activate: (
    app: JupyterFrontEnd,
    shell: ILabShell,
    launcher: ILauncher | null,
    restorer: ILayoutRestorer | null,
    palette: ICommandPalette | null
  ) => {
    const { commands } = app;

    const openCopy = async (id: string, title: string): Promise<void> => {
      try {
        const copy = await copyItem(id);
        await commands.execute('docmanager:open', { path: copy.path });
      } catch (error) {
        Notification.error(`Could not open ${title}: ${(error as Error).message}`, {
          autoClose: 10000
        });
        throw error;
      }
    };

    const panel = new GalleryPanel(openCopy);
    panel.title.icon = funnelIcon;
    panel.title.caption = 'Funnel Workbench: guides, cases and demo data';
    shell.add(panel, 'left', { rank: 50 });
    restorer?.add(panel, panel.id);

    commands.addCommand(CommandIDs.open, {
      label: args => (args.label as string) ?? 'Open a copy of a Funnel Workbench notebook',
      caption: args => (args.caption as string) ?? '',
      icon: funnelIcon,
      // The notification has told the user already; nothing is left to report.
      execute: args =>
        openCopy(args.id as string, (args.label as string) ?? (args.id as string)).catch(
          () => undefined
        )
    });
    commands.addCommand(CommandIDs.showGallery, {
      label: 'Funnel Workbench gallery',
      caption: 'Guides, case studies and demo datasets, by role',
      icon: funnelIcon,
      execute: () => shell.activateById(panel.id)
    });
    launcher?.add({ command: CommandIDs.showGallery, category: CATEGORY, rank: 0 });
    palette?.addItem({ command: CommandIDs.showGallery, category: CATEGORY });

    fetchGallery().then(
      gallery => {
        panel.render(gallery);
        if (launcher) {
          addToLauncher(launcher, gallery);
        }
      },
      error => panel.showError((error as Error).message)
    );

    // The gallery is where a newcomer starts, so it is the panel open after start-up.
    void app.restored.then(() => shell.activateById(panel.id));
  }
};

export default plugin;
