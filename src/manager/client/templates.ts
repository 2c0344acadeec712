/** The API's templates (docs/manager.md, "Templates") as typed calls. */
import type { ApiClient } from './http.ts';
import type { Template } from './types.ts';

const path = (name: string) => `/v1/templates/${encodeURIComponent(name)}`;

export class TemplateApi {
  constructor(readonly client: ApiClient) {}

  list = () => this.client.request<Template[]>('GET', '/v1/templates');
  get = (name: string) => this.client.request<Template>('GET', path(name));
  create = (name: string, from: string) => this.client.request<Template>('POST', '/v1/templates', { name, from });
  remove = (name: string) => this.client.request<void>('DELETE', path(name));
}
