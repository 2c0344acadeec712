/** The API's resource pools (docs/manager.md, "Pools") as typed calls. */
import type { ApiClient } from './http.ts';
import type { Pool, PoolQuota } from './types.ts';

const poolPath = (name: string) => `/v1/pools/${encodeURIComponent(name)}`;

/** A quota change: a number sets a limit, null removes it. */
export type QuotaChange = { [K in keyof PoolQuota]?: number | null };

export class PoolApi {
  constructor(readonly client: ApiClient) {}

  list = () => this.client.request<Pool[]>('GET', '/v1/pools');
  get = (name: string) => this.client.request<Pool>('GET', poolPath(name));
  create = (name: string, quota: PoolQuota) => this.client.request<Pool>('POST', '/v1/pools', { name, quota });
  set = (name: string, quota: QuotaChange) => this.client.request<Pool>('PATCH', poolPath(name), { quota });
  remove = (name: string) => this.client.request<void>('DELETE', poolPath(name));
}
