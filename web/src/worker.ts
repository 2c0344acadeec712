/**
 * The Web Worker entry: the VM's CPU loop runs here, off the page's thread. All logic lives in
 * src/host/browser/vm-controller.ts; this file only connects it to postMessage.
 */
import { VmController } from '../../src/host/browser/vm-controller.ts';
import type { UiMessage, WorkerMessage } from '../../src/host/browser/protocol.ts';

interface WorkerScope {
  postMessage(msg: WorkerMessage, transfer: Transferable[]): void;
  onmessage: ((ev: MessageEvent<UiMessage>) => void) | null;
}
const scope = self as unknown as WorkerScope;
const controller = new VmController((msg, transfer) => scope.postMessage(msg, transfer ?? []));
scope.onmessage = (ev) => controller.handle(ev.data);
