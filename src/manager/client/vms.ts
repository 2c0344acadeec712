/**
 * The API's resources as typed calls (docs/manager.md, "REST API (v1)"): names are always
 * URL-encoded, so a name the daemon would refuse reaches it intact and is refused there.
 */
import type { ApiClient } from './http.ts';
import type { BackupJob, BackupSchedule, CreateRequest, Snapshot, Vm, VmEvent, VmStats } from './types.ts';

const vmPath = (name: string) => `/v1/vms/${encodeURIComponent(name)}`;

export type PowerAction = 'start' | 'stop' | 'pause' | 'resume' | 'reboot';

export class VmApi {
  constructor(readonly client: ApiClient) {}

  version = () => this.client.request<{ version: string }>('GET', '/v1/version');
  list = () => this.client.request<Vm[]>('GET', '/v1/vms');
  get = (name: string) => this.client.request<Vm>('GET', vmPath(name));
  create = (body: CreateRequest) => this.client.request<Vm>('POST', '/v1/vms', body);
  remove = (name: string, force: boolean) =>
    this.client.request<void>('DELETE', `${vmPath(name)}${force ? '?force=true' : ''}`);
  power = (name: string, action: PowerAction) => this.client.request<Vm>('POST', `${vmPath(name)}/${action}`, {});
  shutdown = (name: string, timeout?: number) =>
    this.client.request<Vm>('POST', `${vmPath(name)}/shutdown`, timeout === undefined ? {} : { timeout });
  stats = (name: string) => this.client.request<VmStats>('GET', `${vmPath(name)}/stats`);
  snapshots = (name: string) => this.client.request<Snapshot[]>('GET', `${vmPath(name)}/snapshots`);
  snapshot = (name: string, snap: string) =>
    this.client.request<Snapshot>('POST', `${vmPath(name)}/snapshots`, { name: snap });
  revert = (name: string, snap: string) =>
    this.client.request<Vm>('POST', `${vmPath(name)}/snapshots/${encodeURIComponent(snap)}/revert`, {});
  deleteSnapshot = (name: string, snap: string) =>
    this.client.request<void>('DELETE', `${vmPath(name)}/snapshots/${encodeURIComponent(snap)}`);
  clone = (name: string, to: string, mode: 'linked' | 'full') =>
    this.client.request<Vm>('POST', `${vmPath(name)}/clone`, { name: to, mode });
  importOva = (path: string, name: string) => this.client.request<Vm>('POST', '/v1/vms/import', { path, name });
  exportOva = (name: string, path: string) => this.client.request<unknown>('POST', `${vmPath(name)}/export`, { path });
  events = (name: string) => this.client.request<VmEvent[]>('GET', `${vmPath(name)}/events`);
  backup = (name: string, body: { dest: string; ram?: boolean; incremental?: boolean }) =>
    this.client.request<BackupJob>('POST', `${vmPath(name)}/backups`, body);
  backups = (name: string) => this.client.request<BackupJob[]>('GET', `${vmPath(name)}/backups`);
  restore = (path: string, name?: string) =>
    this.client.request<Vm>('POST', '/v1/vms/restore', { path, ...(name !== undefined ? { name } : {}) });
  schedule = (name: string) => this.client.request<BackupSchedule>('GET', `${vmPath(name)}/backup-schedule`);
  setSchedule = (name: string, body: Record<string, unknown>) =>
    this.client.request<BackupSchedule>('PUT', `${vmPath(name)}/backup-schedule`, body);
  removeSchedule = (name: string) => this.client.request<void>('DELETE', `${vmPath(name)}/backup-schedule`);
  consolePath = (name: string, mode: 'type' | 'watch') => `${vmPath(name)}/console?mode=${mode}`;
}
