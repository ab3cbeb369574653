/**
 * The agency desk's HTTP API (served under `/<agency node id>/` by `juki up` / `juki serve`):
 *
 *   POST /check    {"residentCode": "12345678901", "cardNumber": "C0001", "affair": "agency.passport-issuance"}
 *     200 {"accepted": true, "record": {...}}
 *     409 {"accepted": false, "code": "JUKI_ERR_AGENCY_CARD_NOTICED", "message", "source": "notice-list" | "national", "status"}
 *     404 {"accepted": false, "code": "JUKI_ERR_NOT_FOUND", ...}      403 {"code": "JUKI_ERR_NET_AFFAIR_DENIED", ...}
 *   GET  /notices  {"refused": [{"cardNumber", "status", "version", ...}]}
 *   POST /verify-card {"affair": "agency.passport-issuance"}   (the card in the desk terminal's reader)
 *     200 {"accepted": true, "steps": [...], "card": {...}, "record": {...}}
 *     409 {"accepted": false, "steps": [...], "failedAt": "pin" | "read" | "notices" | "record", "code", "message"}
 *
 * The card-reading part (PIN pad, secure channel through the terminal) comes with the terminal
 * agent; this takes what the basic area gave.
 */
import type { FastifyPluginAsync } from 'fastify';
import { isJukiError } from '../util/index.ts';
import type { NoticeList } from './notice-list.ts';
import type { AgencyVerifier } from './verify.ts';
import type { AgencyCardDesk } from './card-verification.ts';

export function agencyHttpPlugin(list: NoticeList, verifier: AgencyVerifier, cards?: AgencyCardDesk): FastifyPluginAsync {
  return async (app) => {
    app.post('/check', {
      schema: {
        body: {
          type: 'object', additionalProperties: false, required: ['residentCode', 'cardNumber', 'affair'],
          properties: { residentCode: { type: 'string', pattern: '^\\d{11}$' }, cardNumber: { type: 'string', pattern: '^[A-Za-z0-9-]{1,32}$' }, affair: { type: 'string', minLength: 1, maxLength: 100 } },
        },
      },
    }, async (req, reply) => {
      const b = req.body as { residentCode: string; cardNumber: string; affair: string };
      try {
        const r = await verifier.checkCard({ residentCode: b.residentCode, cardNumber: b.cardNumber }, b.affair);
        if (r.accepted) return reply.status(200).send(r);
        return reply.status(r.code === 'JUKI_ERR_NOT_FOUND' ? 404 : 409).send(r);
      } catch (e) {
        if (isJukiError(e, 'JUKI_ERR_NET_AFFAIR_DENIED')) return reply.status(403).send({ code: e.code, message: e.message });
        if (isJukiError(e, 'JUKI_ERR_INVALID_INPUT')) return reply.status(400).send({ code: e.code, message: e.message });
        if (isJukiError(e, 'JUKI_ERR_NET_DELIVERY')) return reply.status(503).send({ code: e.code, message: e.message });
        throw e;
      }
    });
    app.get('/notices', async () => ({ refused: await list.refused() }));
    if (cards) {
      app.post('/verify-card', {
        schema: { body: { type: 'object', additionalProperties: false, required: ['affair'], properties: { affair: { type: 'string', minLength: 1, maxLength: 100 } } } },
      }, async (req, reply) => {
        const r = await cards.verify((req.body as { affair: string }).affair);
        return reply.status(r.accepted ? 200 : 409).send(r);
      });
    }
  };
}
