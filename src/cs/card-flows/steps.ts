/**
 * Steps of a card flow: each named, reported to an observer (the books' audit, R3.1.2o "every
 * step audited"; the observer gets names and public facts only, never data or keys), and a
 * lost card (reader error, power cut) turned into JUKI_ERR_CARD_INTERRUPTED naming the step.
 */
import { JukiError } from '../../util/index.ts';

/** A step of a card flow, as the observer sees it. */
export interface CardFlowEvent {
  readonly flow: string;
  readonly step: string;
  readonly outcome: 'done' | 'skipped' | 'failed';
  /** Public facts only: serial, KVN, application state. */
  readonly detail?: Readonly<Record<string, string | number | boolean>>;
}

export type CardFlowObserver = (event: CardFlowEvent) => void;

/** Runs named steps of one flow. */
export class FlowSteps {
  #current = 'start';
  readonly done: string[] = [];
  constructor(
    readonly flow: string,
    private readonly observer?: CardFlowObserver,
  ) {}

  get current(): string {
    return this.#current;
  }

  async run<T>(step: string, fn: () => Promise<T>, detail?: CardFlowEvent['detail']): Promise<T> {
    this.#current = step;
    try {
      const r = await fn();
      this.done.push(step);
      this.observer?.({ flow: this.flow, step, outcome: 'done', ...(detail ? { detail } : {}) });
      return r;
    } catch (e) {
      this.observer?.({ flow: this.flow, step, outcome: 'failed', detail: { code: e instanceof JukiError ? e.code : 'unexpected' } });
      throw interrupted(this.flow, step, e);
    }
  }

  skip(step: string, detail?: CardFlowEvent['detail']): void {
    this.observer?.({ flow: this.flow, step, outcome: 'skipped', ...(detail ? { detail } : {}) });
  }
}

/** Reader-level failures (card gone, unpowered, relay down) become JUKI_ERR_CARD_INTERRUPTED; the rest pass unchanged. */
export function interrupted(flow: string, step: string, e: unknown): unknown {
  if (e instanceof JukiError && (e.code === 'JUKI_ERR_READER' || e.code === 'JUKI_ERR_CARD_UNPOWERED')) {
    return new JukiError('JUKI_ERR_CARD_INTERRUPTED', `${flow}: the card was lost at step "${step}" (${e.message}); run ${flow} again on the same card to resume it`, { flow, step, cause: e.code });
  }
  return e;
}
