/**
 * What the supervisor needs of a QMP connection. The protocol itself is spoken by the QMP client
 * of src/host/node (the one client, shared with the QMP engine's tests); this file only names
 * the few operations the manager uses so the supervisor does not depend on the client's shape.
 */
export interface QmpEvent {
  event: string;
  data?: Record<string, unknown>;
}

export interface QmpLink {
  /** Runs a command; resolves to its `return` value, rejects with the QMP error's desc. */
  execute(command: string, args?: Record<string, unknown>): Promise<unknown>;
  onEvent(listener: (e: QmpEvent) => void): void;
  /** Called once when the connection ends (the VM exited, or close()). */
  onClose(listener: () => void): void;
  close(): void;
}

export type QmpConnector = (socketPath: string, timeoutMs: number) => Promise<QmpLink>;
