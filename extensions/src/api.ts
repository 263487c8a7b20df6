// The REST API of the server extension `workbench.lab` (python/workbench/lab/handlers.py).

import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

/** A reader the gallery is written for: analysts, product managers, ... */
export interface IRole {
  id: string;
  label: string;
}

/** A shipped guide or case study, described by its `metadata.workbench`. */
export interface IItem {
  id: string;
  kind: 'guide' | 'case';
  role: string;
  title: string;
  summary: string;
  order: number;
}

/** A demo dataset; opening it writes a starter notebook that loads it. */
export interface IDataset {
  id: string;
  title: string;
  summary: string;
}

export interface IGallery {
  roles: IRole[];
  items: IItem[];
  datasets: IDataset[];
  /** Shipped notebooks left out of the gallery, each with the reason. */
  problems: string[];
}

export interface ICopy {
  id: string;
  /** Where the copy was written, relative to the working folder (the server root). */
  path: string;
}

async function request<T>(endpoint: string, init: RequestInit = {}): Promise<T> {
  const settings = ServerConnection.makeSettings();
  const url = URLExt.join(settings.baseUrl, 'workbench', endpoint);
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(url, init, settings);
  } catch (error) {
    throw new ServerConnection.NetworkError(error as TypeError);
  }
  if (response.status === 404 && endpoint === 'gallery') {
    // Jupyter answers an unknown route with an HTML page: say what is actually missing.
    throw new Error(
      'The Funnel Workbench server extension is not running in this JupyterLab ' +
        '(GET /workbench/gallery answered 404). Install funnel-workbench in the ' +
        "server's environment and restart JupyterLab."
    );
  }
  let body: { message?: string } = {};
  try {
    body = await response.json();
  } catch {
    // An error page that is not JSON: fall back to the status line below.
  }
  if (!response.ok) {
    throw new Error(body.message || `${response.status} ${response.statusText}`);
  }
  return body as T;
}

export function fetchGallery(): Promise<IGallery> {
  return request<IGallery>('gallery');
}

/** Copy a gallery item into the working folder; the server picks a name that is free. */
export function copyItem(id: string): Promise<ICopy> {
  return request<ICopy>('copies', { method: 'POST', body: JSON.stringify({ id }) });
}
