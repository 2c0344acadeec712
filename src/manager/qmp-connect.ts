/**
 * The QMP connector the daemon uses: the shared QMP client of src/host/node (built by the QMP
 * engine's work) adapted to QmpLink.
 */
import type { QmpConnector } from './qmp-link.ts';

export const connectQmp: QmpConnector = async () => {
  throw new Error('this build has no QMP client yet (src/host/node/qmp-client.ts)');
};
