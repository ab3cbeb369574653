/**
 * The counter API of a municipality CS, as a Fastify plugin (the `municipality` role mounts it
 * under `/<node id>`). TypeBox schemas on every request and response, so bad input is answered
 * 400 naming the field before anything runs, and undeclared fields never leak.
 *
 * Staff sign in with the operator card (POST /login/challenge, the card signs, POST /login)
 * and send `Authorization: Bearer <token>`. Each route needs one permission (docs/counter.md);
 * every decision is audited (`cs.access`). Errors are `{code, message, details}`:
 *   400 malformed input   401 no or expired session, failed login   403 permission refused
 *   404 no such record    409 state conflict (stock, status, races) 422 application refused
 *   502 the card step failed
 */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { Type, type TSchema } from '@sinclair/typebox';
import type { Actor } from '../audit/index.ts';
import { JukiError } from '../util/index.ts';
import { APPLICATION_KINDS, REISSUE_DISPOSITIONS } from './applications.ts';
import { CARD_LIFECYCLE, type StatusCause } from './card-status.ts';
import type { Counter } from './counter.ts';
import { STAFF_ROLES, type Permission, type Principal, type StaffRole } from './staff.ts';
import { STOCK_STATES } from './stock.ts';

const ErrorSchema = Type.Object({ code: Type.String(), message: Type.String(), details: Type.Object({}, { additionalProperties: true }) });
const Id = Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$' });
const Serial = Type.String({ pattern: '^[A-Z0-9]{4,24}$' });
const CardNumber = Type.String({ pattern: '^[A-Za-z0-9-]{1,32}$' });
const ResidentCode = Type.String({ pattern: '^[0-9]{11}$' });
const Municipality = Type.String({ pattern: '^[0-9]{6}$' });
const Text = (max: number) => Type.String({ minLength: 1, maxLength: max });
const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);
const Enum = (values: readonly string[]) => Type.Union(values.map((v) => Type.Literal(v)));

const Principal = Type.Object({ staffId: Type.String(), role: Type.String(), terminalId: Nullable(Type.String()), expiresAt: Type.String() });
const Member = Type.Object({ staffId: Type.String(), name: Type.String(), role: Type.String(), cardSerial: Type.String(), active: Type.Boolean(), createdAt: Type.String() });
const TerminalS = Type.Object({ terminalId: Type.String(), name: Type.String(), reader: Type.String(), pinPad: Type.String(), active: Type.Boolean(), createdAt: Type.String() });
const StockCardS = Type.Object({
  serial: Type.String(), lot: Type.String(), state: Enum(STOCK_STATES), staffId: Nullable(Type.String()), terminalId: Nullable(Type.String()),
  witnessedBy: Nullable(Type.String()), reason: Nullable(Type.String()), updatedAt: Type.String(),
});
const LedgerS = Type.Object({
  seq: Type.Integer(), at: Type.String(), event: Type.String(), from: Nullable(Type.String()), to: Type.String(), staffId: Type.String(),
  terminalId: Nullable(Type.String()), witnessedBy: Nullable(Type.String()), reason: Nullable(Type.String()),
});
const ReceiveS = Type.Object({ results: Type.Array(Type.Object({ serial: Type.String(), state: Type.String(), error: Type.Optional(Type.Object({ code: Type.String(), message: Type.String() })) })) });
const ReportS = Type.Object({
  at: Type.String(),
  counts: Type.Object(Object.fromEntries(STOCK_STATES.map((s) => [s, Type.Integer()]))),
  total: Type.Integer(),
  delivered: Type.Integer(),
  takenOut: Type.Array(Type.Object({ serial: Type.String(), staffId: Nullable(Type.String()), terminalId: Nullable(Type.String()) })),
  awaitingDestruction: Type.Array(Type.String()),
  alarms: Type.Array(Type.Object({ serial: Type.String(), alarm: Type.String(), expected: Type.Optional(Type.String()), found: Type.Optional(Type.String()) })),
});
const ApplicationS = Type.Object({
  applicationId: Type.String(), kind: Type.String(), residentCode: Type.String(), state: Type.String(), reason: Nullable(Type.String()),
  priorCard: Nullable(Type.String()), disposition: Nullable(Type.String()), cardNumber: Nullable(Type.String()), staffId: Type.String(),
  terminalId: Type.String(), createdAt: Type.String(), updatedAt: Type.String(),
});
const CardS = Type.Object({
  cardNumber: Type.String(), serial: Nullable(Type.String()), residentCode: Type.String(), issuer: Type.String(), status: Enum(CARD_LIFECYCLE),
  suspendedFrom: Nullable(Type.String()), issuedAt: Nullable(Type.String()), validUntil: Nullable(Type.String()), applicationId: Nullable(Type.String()),
  version: Type.Integer(), updatedAt: Type.String(),
});
const HistoryS = Type.Array(Type.Object({ seq: Type.Integer(), at: Type.String(), from: Nullable(Type.String()), to: Type.String(), cause: Type.String(), actor: Type.String() }));

/** Causes a counter may ask for over HTTP, with the permission each needs (pin-set, reissue and renewal come from the issuance). */
const CAUSE_PERMISSION: Readonly<Record<string, Permission>> = {
  lost: 'card.report', found: 'card.report', 'suspension-request': 'card.report', 'suspension-lifted': 'card.report',
  death: 'card.abolish', expiry: 'card.abolish', 'move-out': 'card.abolish', 'holder-request': 'card.abolish',
  returned: 'card.collect',
};

const STATUS_OF: Partial<Record<string, number>> = {
  JUKI_ERR_CS_UNAUTHENTICATED: 401, JUKI_ERR_CS_LOGIN_FAILED: 401, JUKI_ERR_CS_FORBIDDEN: 403, JUKI_ERR_NOT_FOUND: 404,
  JUKI_ERR_CONFLICT: 409, JUKI_ERR_CS_STOCK_STATE: 409, JUKI_ERR_CS_CARD_TRANSITION: 409, JUKI_ERR_CS_APPLICATION_STATE: 409,
  JUKI_ERR_CS_ISSUANCE_IN_PROGRESS: 409, JUKI_ERR_CS_WITNESS: 422, JUKI_ERR_CS_NOT_REGISTERED: 422, JUKI_ERR_CS_PRIOR_CARD_VALID: 422,
  JUKI_ERR_CS_NO_CURRENT_CARD: 422, JUKI_ERR_CS_CARD_NOT_RETURNED: 422, JUKI_ERR_CS_CARD_NOT_PRESENTED: 422, JUKI_ERR_CS_NOT_WITHIN_VALIDITY: 422,
  JUKI_ERR_CS_PRIOR_CARD_UNAVAILABLE: 503, JUKI_ERR_CS_CARD_STEP: 502,
  JUKI_ERR_CS_WRONG_CARD: 409, JUKI_ERR_CS_IDENTITY_CHECK: 422, JUKI_ERR_CS_PIN_NOT_SET: 409, JUKI_ERR_READER: 502, JUKI_ERR_CARD_STATE: 409,
};

const principals = new WeakMap<FastifyRequest, Principal>();

function actorOf(req: FastifyRequest): Actor {
  return { kind: 'staff', id: principals.get(req)!.staffId };
}

/** A Fastify validation error as `{code, message, details: {field}}`: `body.serial: must match pattern ...`. */
function validationError(err: { validation: { instancePath?: string; params?: Record<string, unknown>; message?: string }[]; validationContext?: string }): JukiError {
  const first = err.validation[0] ?? {};
  const path = (first.instancePath ?? '').replace(/^\//, '').replace(/\//g, '.');
  const missing = first.params?.missingProperty as string | undefined;
  const field = [path, missing].filter(Boolean).join('.') || (err.validationContext ?? 'body');
  const where = err.validationContext ?? 'body';
  return new JukiError('JUKI_ERR_INVALID_INPUT', `${where}.${field}: ${missing ? 'required' : (first.message ?? 'invalid')}`, { field });
}

export function counterHttpPlugin(counter: Counter): FastifyPluginAsync {
  return async (app) => {
    app.setErrorHandler((err, req, reply) => {
      const e = err as unknown as { validation?: never; validationContext?: string; statusCode?: number; message: string };
      if (e.validation) return reply.status(400).send(validationError(e as never).toJSON());
      if (err instanceof JukiError) {
        const status = STATUS_OF[err.code] ?? 400;
        const { permanent: _p, ...details } = err.details;
        return reply.status(status).send({ code: err.code, message: err.message, details });
      }
      if (e.statusCode && e.statusCode < 500) return reply.status(e.statusCode).send({ code: 'JUKI_ERR_INVALID_INPUT', message: e.message, details: {} });
      req.log.error(err);
      return reply.status(500).send({ code: 'JUKI_ERR_INTERNAL', message: 'internal error', details: {} });
    });

    /** preHandler: a valid session with `permission` (audited), or a 401/403 refusal. */
    const need = (permission: Permission | null, operation: string) => async (req: FastifyRequest): Promise<void> => {
      const h = req.headers.authorization;
      const token = typeof h === 'string' && h.startsWith('Bearer ') ? h.slice(7).trim() : undefined;
      const principal = await counter.staff.session(token);
      principals.set(req, principal);
      if (permission) await counter.staff.authorize(principal, permission, operation);
    };
    const errors = { 400: ErrorSchema, 401: ErrorSchema, 403: ErrorSchema, 404: ErrorSchema, 409: ErrorSchema, 422: ErrorSchema, 502: ErrorSchema, 503: ErrorSchema };
    const tags = ['counter'];

    app.post('/login/challenge', {
      schema: { tags, summary: 'Start an operator-card sign-in: a one-time challenge for the card to sign', body: Type.Object({ staffId: Id }, { additionalProperties: false }), response: { 200: Type.Object({ challengeId: Type.String(), challenge: Type.String(), expiresAt: Type.String() }), ...errors } },
    }, async (req) => counter.staff.challenge((req.body as { staffId: string }).staffId));

    app.post('/login', {
      schema: {
        tags, summary: 'Finish the sign-in with the operator card\'s ECDSA P-256 signature over the challenge',
        body: Type.Object({ challengeId: Text(64), signature: Type.String({ minLength: 1, maxLength: 200 }), terminalId: Type.Optional(Id) }, { additionalProperties: false }),
        response: { 200: Type.Object({ token: Type.String(), staffId: Type.String(), role: Type.String(), terminalId: Nullable(Type.String()), expiresAt: Type.String() }), ...errors },
      },
    }, async (req) => counter.staff.login(req.body as { challengeId: string; signature: string; terminalId?: string }));

    app.post('/logout', { schema: { tags, response: { 200: Type.Object({ ok: Type.Boolean() }), ...errors } }, preHandler: need(null, 'logout') }, async (req) => {
      await counter.staff.logout(req.headers.authorization!.slice(7).trim());
      return { ok: true };
    });

    app.get('/me', { schema: { tags, response: { 200: Principal, ...errors } }, preHandler: need(null, 'me') }, async (req) => principals.get(req)!);

    app.get('/staff', { schema: { tags, response: { 200: Type.Array(Member), ...errors } }, preHandler: need('staff.manage', 'list staff') }, async () => counter.staff.list());

    app.post('/staff', {
      schema: {
        tags, summary: 'Enrol a staff member with an operator card (serial and P-256 public key, SPKI DER base64)',
        body: Type.Object({ staffId: Id, name: Text(100), role: Enum(STAFF_ROLES), cardSerial: Serial, publicKey: Type.String({ minLength: 1, maxLength: 2000 }) }, { additionalProperties: false }),
        response: { 201: Member, ...errors },
      },
      preHandler: need('staff.manage', 'enrol staff'),
    }, async (req, reply) => reply.status(201).send(await counter.staff.enroll(actorOf(req), req.body as never)));

    app.get('/terminals', { schema: { tags, response: { 200: Type.Array(TerminalS), ...errors } }, preHandler: need('terminal.read', 'list terminals') }, async () => counter.terminals.list());

    app.post('/terminals', {
      schema: {
        tags, body: Type.Object({ terminalId: Id, name: Text(100), reader: Text(100), pinPad: Text(100) }, { additionalProperties: false }),
        response: { 201: TerminalS, ...errors },
      },
      preHandler: need('terminal.manage', 'register terminal'),
    }, async (req, reply) => reply.status(201).send(await counter.terminals.register(actorOf(req), req.body as never)));

    const desk = counter.operatorCards;
    if (desk) {
      app.post('/terminals/:terminalId/operator-cards', {
        schema: {
          tags, summary: 'Make a staff member\'s operator card from the blank card taken out for this terminal and on its reader (the card makes its login key pair; the staff member sets the operator PIN on the terminal\'s pad), and enrol them',
          params: Type.Object({ terminalId: Id }),
          body: Type.Object({ serial: Serial, staffId: Id, name: Text(100), role: Enum(STAFF_ROLES) }, { additionalProperties: false }),
          response: { 201: Member, ...errors },
        },
        preHandler: need('staff.manage', 'make operator card'),
      }, async (req, reply) => reply.status(201).send(await desk.issue(actorOf(req), { terminalId: (req.params as { terminalId: string }).terminalId, ...(req.body as { serial: string; staffId: string; name: string; role: StaffRole }) })));

      app.post('/operator-cards/from-delivery', {
        schema: {
          tags, summary: 'Make a staff member\'s operator card from a maker\'s blank card on the stock terminal\'s reader: received as a one-card lot, re-keyed, taken out and personalised (the staff member sets the operator PIN on the pad), and enrol them',
          body: Type.Object({ lot: Id, transportKeyRef: Text(128), staffId: Id, name: Text(100), role: Enum(STAFF_ROLES) }, { additionalProperties: false }),
          response: { 201: Member, ...errors },
        },
        preHandler: need('staff.manage', 'make operator card from delivery'),
      }, async (req, reply) => reply.status(201).send(await desk.issueFromDelivery(actorOf(req), req.body as never)));

      app.post('/setup/first-administrator', {
        schema: {
          tags, summary: 'A CS without staff: enrol the first administrator with the one-time set-up code printed on the node\'s console; the blank card on the stock terminal\'s reader (of the lot named, under its maker transport keys) becomes their operator card',
          body: Type.Object({ setupCode: Type.String({ minLength: 1, maxLength: 64 }), reader: Type.Optional(Text(100)), pinPad: Type.Optional(Text(100)), lot: Id, transportKeyRef: Text(128), staffId: Id, name: Text(100) }, { additionalProperties: false }),
          response: { 201: Member, ...errors },
        },
      }, async (req, reply) => reply.status(201).send(await desk.firstAdministrator(req.body as never)));
    }

    app.post('/stock/lots', {
      schema: {
        tags, summary: 'Receive a delivery lot; each card is re-keyed and enters the safe only if that succeeded (R3.1.1a)',
        body: Type.Object({ lot: Id, transportKeyRef: Text(128), serials: Type.Array(Serial, { minItems: 1, maxItems: 10000 }) }, { additionalProperties: false }),
        response: { 200: ReceiveS, ...errors },
      },
      preHandler: need('stock.receive', 'receive lot'),
    }, async (req) => ({ results: await counter.stock.receiveLot(actorOf(req), req.body as never) }));

    app.post('/stock/lots/:lot/rekey', {
      schema: { tags, params: Type.Object({ lot: Id }), response: { 200: ReceiveS, ...errors } },
      preHandler: need('stock.receive', 'retry re-key'),
    }, async (req) => ({ results: await counter.stock.rekeyPending(actorOf(req), (req.params as { lot: string }).lot) }));

    app.post('/stock/take-out', {
      schema: { tags, body: Type.Object({ terminalId: Id, serial: Type.Optional(Serial) }, { additionalProperties: false }), response: { 200: StockCardS, ...errors } },
      preHandler: need('stock.take-out', 'take out blank card'),
    }, async (req) => counter.stock.takeOut(actorOf(req), req.body as never));

    app.post('/stock/:serial/return', {
      schema: { tags, params: Type.Object({ serial: Serial }), response: { 200: StockCardS, ...errors } },
      preHandler: need('stock.take-out', 'return blank card'),
    }, async (req) => counter.stock.returnToSafe(actorOf(req), (req.params as { serial: string }).serial));

    app.post('/stock/:serial/spoil', {
      schema: {
        tags, params: Type.Object({ serial: Serial }),
        body: Type.Object({ reason: Text(200), witnessedBy: Id }, { additionalProperties: false }), response: { 200: StockCardS, ...errors },
      },
      preHandler: need('stock.spoil', 'spoil blank card'),
    }, async (req) => counter.stock.spoil(actorOf(req), { serial: (req.params as { serial: string }).serial, ...(req.body as { reason: string; witnessedBy: string }) }));

    app.get('/stock/:serial', {
      schema: { tags, params: Type.Object({ serial: Serial }), response: { 200: Type.Object({ card: StockCardS, ledger: Type.Array(LedgerS) }), ...errors } },
      preHandler: need('stock.reconcile', 'read blank card'),
    }, async (req) => {
      const serial = (req.params as { serial: string }).serial;
      return { card: await counter.stock.get(serial), ledger: await counter.stock.ledger(serial) };
    });

    app.post('/stock/reconcile', {
      schema: {
        tags, summary: 'The reconciliation report; with `counted`, the physical count of the safe (R3.1.1i)',
        body: Type.Object({ counted: Type.Optional(Type.Array(Serial, { maxItems: 100000 })) }, { additionalProperties: false }), response: { 200: ReportS, ...errors },
      },
      preHandler: need('stock.reconcile', 'reconcile stock'),
    }, async (req) => counter.stock.reconcile(actorOf(req), req.body as never));

    app.post('/applications', {
      schema: {
        tags, summary: 'Take a card application; refusals are 422 with their reason code (R3.1.2a/i/u)',
        body: Type.Object({
          kind: Enum(APPLICATION_KINDS), residentCode: ResidentCode, terminalId: Id, disposition: Type.Optional(Enum(REISSUE_DISPOSITIONS)),
          returnedCard: Type.Optional(CardNumber), presentedCard: Type.Optional(CardNumber),
        }, { additionalProperties: false }),
        response: { 201: ApplicationS, ...errors },
      },
      preHandler: need('application.create', 'take application'),
    }, async (req, reply) => reply.status(201).send(await counter.applications.apply(actorOf(req), req.body as never)));

    app.get('/applications/:applicationId', {
      schema: { tags, params: Type.Object({ applicationId: Id }), response: { 200: ApplicationS, ...errors } },
      preHandler: need('application.create', 'read application'),
    }, async (req) => counter.applications.get((req.params as { applicationId: string }).applicationId));

    app.post('/issuances', {
      schema: {
        tags, summary: 'Personalise a blank card for an accepted application; the card is issued-awaiting-pin',
        body: Type.Object({
          applicationId: Id, serial: Serial, terminalId: Id, jpki: Type.Optional(Type.Boolean()), face: Type.Optional(Enum(['form1', 'form2'])),
        }, { additionalProperties: false }), response: { 201: CardS, ...errors },
      },
      preHandler: need('issuance.run', 'issue card'),
    }, async (req, reply) => reply.status(201).send(await counter.issuance.issue(actorOf(req), req.body as never)));

    app.post('/cards/:cardNumber/pin-set', {
      schema: { tags, summary: 'The PIN pad reports the holder set the PIN: the card becomes active', params: Type.Object({ cardNumber: CardNumber }), response: { 200: CardS, ...errors } },
      preHandler: need('issuance.run', 'activate card'),
    }, async (req) => {
      // With terminals wired the CS drives the pad itself (POST /cards/:cardNumber/pin): a bare report is not trusted.
      if (counter.pins) throw new JukiError('JUKI_ERR_CS_CARD_TRANSITION', 'pin-set: this counter sets PINs on the terminal\'s PIN pad itself: use POST /cards/:cardNumber/pin', { field: 'cardNumber' });
      return counter.issuance.activateOnPinSet(actorOf(req), (req.params as { cardNumber: string }).cardNumber);
    });

    app.get('/cards/:cardNumber', {
      schema: { tags, params: Type.Object({ cardNumber: CardNumber }), response: { 200: Type.Object({ card: CardS, history: HistoryS }), ...errors } },
      preHandler: need('card.read', 'read card'),
    }, async (req) => {
      const n = (req.params as { cardNumber: string }).cardNumber;
      return { card: await counter.status.get(n), history: await counter.status.history(n) };
    });

    app.post('/cards/:cardNumber/status', {
      schema: {
        tags, summary: 'Change a card\'s status for a cause, along the configured status machine (R3.2.1a)',
        params: Type.Object({ cardNumber: CardNumber }), body: Type.Object({ cause: Enum(Object.keys(CAUSE_PERMISSION)) }, { additionalProperties: false }),
        response: { 200: CardS, ...errors },
      },
      preHandler: async (req: FastifyRequest, reply: FastifyReply) => {
        const cause = (req.body as { cause: string }).cause;
        await need(CAUSE_PERMISSION[cause]!, `card status ${cause}`)(req);
        void reply;
      },
    }, async (req) => counter.status.change(actorOf(req), (req.params as { cardNumber: string }).cardNumber, (req.body as { cause: StatusCause }).cause));

    // PIN services (R3.1.2ka/ki, R3.2.2a/i): only when the counter's terminals are wired. The PIN goes from the pad to the card; these routes see outcomes only.
    const pins = counter.pins;
    if (pins) {
      const CheckS = Type.Object({
        checkId: Type.String(), cardNumber: Type.String(), residentCode: Type.String(), purpose: Type.String(), method: Type.String(), staffId: Type.String(),
        terminalId: Type.String(), checkedAt: Type.String(),
      });
      app.post('/cards/:cardNumber/pin', {
        schema: {
          tags, summary: 'The first PIN, typed on the terminal\'s PIN pad by the holder, the legal representative, or staff from a voluntary agent\'s sealed notice (R3.1.2ka); the card becomes active',
          params: Type.Object({ cardNumber: CardNumber }),
          body: Type.Object({ terminalId: Id, setBy: Enum(['holder', 'legal-representative', 'agent']), agentName: Type.Optional(Text(100)) }, { additionalProperties: false }),
          response: { 200: Type.Object({ card: CardS, noticeId: Nullable(Type.String()) }), ...errors },
        },
        preHandler: need('issuance.run', 'set PIN on the pad'),
      }, async (req) => pins.setAtIssuance(actorOf(req), { cardNumber: (req.params as { cardNumber: string }).cardNumber, ...(req.body as { terminalId: string; setBy: string }) }));

      app.post('/pin-notices/:noticeId/destroyed', {
        schema: {
          tags, summary: 'Record the destruction of a voluntary agent\'s sealed PIN notice (R3.1.2ka)', params: Type.Object({ noticeId: Text(64) }),
          body: Type.Object({ witnessedBy: Type.Optional(Id) }, { additionalProperties: false }),
          response: { 200: Type.Object({ noticeId: Type.String(), cardNumber: Type.String(), destroyedAt: Type.String() }), ...errors },
        },
        preHandler: need('issuance.run', 'record PIN notice destroyed'),
      }, async (req) => pins.noticeDestroyed(actorOf(req), { noticeId: (req.params as { noticeId: string }).noticeId, ...(req.body as { witnessedBy?: string }) }));

      app.post('/identity-checks', {
        schema: {
          tags, summary: 'Record the identity verification done at the counter before a PIN change or unblock (R3.2.2a, R3.2.2i)',
          body: Type.Object({ cardNumber: CardNumber, terminalId: Id, purpose: Enum(['pin-change', 'pin-unblock']), method: Text(100) }, { additionalProperties: false }),
          response: { 201: CheckS, ...errors },
        },
        preHandler: need('issuance.run', 'record identity verification'),
      }, async (req, reply) => reply.status(201).send(await pins.verifyIdentity(actorOf(req), req.body as never)));

      for (const [path, kind] of [['change', 'pin-change'], ['unblock', 'pin-unblock']] as const) {
        app.post(`/cards/:cardNumber/pin/${path}`, {
          schema: {
            tags, summary: kind === 'pin-change'
              ? 'R3.2.2a: after the recorded identity verification, the PIN is reset over the issuer channel and the holder sets a new one on the pad (the old PIN is not needed)'
              : 'R3.2.2i: after the recorded identity verification, the blocked PIN is unblocked over the issuer channel and the holder sets a new one on the pad',
            params: Type.Object({ cardNumber: CardNumber }), body: Type.Object({ terminalId: Id, checkId: Text(64) }, { additionalProperties: false }),
            response: { 200: Type.Object({ card: CardS, before: Type.String() }), ...errors },
          },
          preHandler: need('issuance.run', `PIN ${path}`),
        }, async (req) => {
          const input = { cardNumber: (req.params as { cardNumber: string }).cardNumber, ...(req.body as { terminalId: string; checkId: string }) };
          return kind === 'pin-change' ? pins.change(actorOf(req), input) : pins.unblock(actorOf(req), input);
        });
      }
    }

    app.post('/returned-cards', {
      schema: {
        tags, summary: 'Take in another municipality\'s card at move-in: collected here, the issuer told over Juki-net (R3.2.1i)',
        body: Type.Object({ cardNumber: CardNumber, issuer: Municipality, residentCode: ResidentCode }, { additionalProperties: false }),
        response: { 201: CardS, ...errors },
      },
      preHandler: need('card.collect', 'take in returned card'),
    }, async (req, reply) => reply.status(201).send(await counter.moves.receiveReturnedCard(actorOf(req), req.body as never)));
  };
}
