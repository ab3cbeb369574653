/**
 * Who may drive a `juki terminal` (src/terminal/https.ts `authorisePeer`), by the node its client
 * certificate names (network CA; never a header):
 *
 *   cs         its CS (a municipality, or an agency at a desk): everything, the PIN steps on
 *              the pad included
 *   relayFor   nodes admitted to the relay only (list readers, connect, transmit server-built
 *              APDUs; the relay refuses PIN-bearing commands): the national center reading an
 *              agency card (R4.2.1). PIN entry, operator login and release stay with the CS.
 *
 * Anyone else, or a certificate naming no node, is refused (JUKI_ERR_TERMINAL_DENIED).
 */
import type { X509Certificate } from 'node:crypto';
import { nodeId, peerIdentity } from '../net/index.ts';
import type { TerminalAction } from '../terminal/index.ts';

export function terminalPeers(cs: string, relayFor: readonly string[] = []): (cert: X509Certificate, action: TerminalAction) => boolean {
  return (cert, action) => {
    let id: string;
    try {
      id = nodeId(peerIdentity(cert));
    } catch {
      return false;
    }
    return id === cs || (action === 'relay' && relayFor.includes(id));
  };
}
