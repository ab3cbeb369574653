/**
 * The card face (R3.1.2e "print the face"): the printed items of a Basic Resident Register
 * Card and their print job, a PDF for the counter's card printer.
 *
 * - Form 1 (様式第一, no photo): name, card number, validity, issuing municipality.
 * - Form 2 (様式第二, with photo): the same, plus date of birth, sex and address, and the
 *   photo box (a placeholder here: the photo is taken at the counter).
 *
 * The layouts are plain (one column of labelled items, a card-sized page); the face issue
 * adds the digital seal and the final layout. `faceRecord` is the same items as canonical
 * bytes, written into the basic area (EF 0006) so the anti-forgery check can compare the
 * printed face with the chip; the seal over it comes with the face issue too.
 *
 * Japanese text needs a CJK font: the IPAex Gothic of Debian's fonts-ipaexfont-gothic when it
 * is installed ($JUKI_FACE_FONT names another TrueType font); without one, characters outside
 * Latin-1 are printed as `?` and `missingFont` says so.
 */
import { existsSync } from 'node:fs';
import PDFDocument from 'pdfkit';
import { invalid } from '../util/index.ts';

export const FACE_FORMS = ['form1', 'form2'] as const;
export type FaceForm = (typeof FACE_FORMS)[number];

/** What is printed on the face. Dates are YYYY-MM-DD. */
export interface FaceItems {
  readonly form: FaceForm;
  /** Family and given name, as in the register. */
  readonly name: string;
  readonly kana?: string;
  readonly cardNumber: string;
  /** The issuing municipality's code and (when known) name. */
  readonly municipality: string;
  readonly municipalityName?: string;
  readonly issuedOn: string;
  readonly validUntil: string;
  /** Form 2 only. */
  readonly birthDate?: string;
  readonly sex?: 'male' | 'female';
  readonly address?: string;
}

export interface RenderedFace {
  readonly pdf: Buffer;
  /** No CJK font was found: non-Latin-1 characters were printed as `?`. */
  readonly missingFont: boolean;
}

const FONT_CANDIDATES = ['/usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf', '/usr/share/fonts/truetype/ipaexfont-gothic/ipaexg.ttf'];
const DATE = /^[0-9]{4}-[0-9]{2}-[0-9]{2}$/;

/** Check the items with exact messages (nothing is rendered before this passes). */
export function checkFaceItems(items: FaceItems): void {
  if (!(FACE_FORMS as readonly string[]).includes(items.form)) throw invalid('form', `expected form1 or form2, got ${JSON.stringify(items.form)}`);
  for (const f of ['name', 'cardNumber', 'municipality'] as const) {
    const v = items[f];
    if (typeof v !== 'string' || v.trim() === '' || [...v].length > 200 || /[\u0000-\u001f]/.test(v)) throw invalid(f, `expected one line of 1 to 200 characters, got ${typeof v === 'string' ? `${[...v].length} characters` : typeof v}`);
  }
  for (const f of ['issuedOn', 'validUntil'] as const) {
    if (typeof items[f] !== 'string' || !DATE.test(items[f])) throw invalid(f, `expected a date YYYY-MM-DD, got ${JSON.stringify(items[f])}`);
  }
  if (items.form === 'form2') {
    if (typeof items.birthDate !== 'string' || !DATE.test(items.birthDate)) throw invalid('birthDate', `form2: expected a date YYYY-MM-DD, got ${JSON.stringify(items.birthDate)}`);
    if (items.sex !== 'male' && items.sex !== 'female') throw invalid('sex', `form2: expected male or female, got ${JSON.stringify(items.sex)}`);
    if (typeof items.address !== 'string' || items.address.trim() === '') throw invalid('address', 'form2: expected the address, got none');
  }
}

/** The printed items as labelled lines, in print order. */
export function faceLines(items: FaceItems): [label: string, value: string][] {
  const lines: [string, string][] = [['氏名 Name', items.name]];
  if (items.kana) lines.push(['フリガナ', items.kana]);
  if (items.form === 'form2') {
    lines.push(['生年月日 Date of birth', items.birthDate!]);
    lines.push(['性別 Sex', items.sex === 'male' ? '男 male' : '女 female']);
    lines.push(['住所 Address', items.address!]);
  }
  lines.push(['カード番号 Card number', items.cardNumber]);
  lines.push(['交付日 Issued', items.issuedOn]);
  lines.push(['有効期限 Valid until', items.validUntil]);
  lines.push(['交付市町村 Issued by', items.municipalityName ? `${items.municipalityName} (${items.municipality})` : items.municipality]);
  return lines;
}

/**
 * The face record for the basic area's EF 0006: the printed items as canonical JSON (sorted
 * keys, UTF-8), version-tagged. Unsealed until the face issue adds the digital seal.
 */
export function faceRecord(items: FaceItems): Uint8Array {
  checkFaceItems(items);
  const fields: Record<string, string> = { v: 'juki-face/1', form: items.form };
  for (const k of ['name', 'kana', 'cardNumber', 'municipality', 'municipalityName', 'issuedOn', 'validUntil', 'birthDate', 'sex', 'address'] as const) {
    const v = items[k];
    if (v !== undefined) fields[k] = v;
  }
  const sorted = Object.fromEntries(Object.keys(fields).sort().map((k) => [k, fields[k]]));
  return new Uint8Array(Buffer.from(JSON.stringify(sorted), 'utf8'));
}

/** The face's TrueType font, if one is installed. */
export function faceFont(): string | undefined {
  const env = process.env.JUKI_FACE_FONT;
  if (env) return existsSync(env) ? env : undefined;
  return FONT_CANDIDATES.find((p) => existsSync(p));
}

/** Render the face as a one-page PDF the size of an ID-1 card (85.6 × 54 mm), plain layout. */
export function renderFacePdf(items: FaceItems): Promise<RenderedFace> {
  checkFaceItems(items);
  const font = faceFont();
  const mm = 72 / 25.4;
  const doc = new PDFDocument({
    size: [85.6 * mm, 54 * mm],
    margin: 3 * mm,
    // Fixed metadata: the same items render to the same PDF body (the date is the issue date).
    info: { Title: `Basic Resident Register Card ${items.cardNumber}`, Producer: 'juki', Creator: 'juki src/face', CreationDate: new Date(`${items.issuedOn}T00:00:00Z`) },
  });
  const chunks: Buffer[] = [];
  doc.on('data', (c: Buffer) => chunks.push(c));
  const done = new Promise<Buffer>((resolve, reject) => {
    doc.on('end', () => resolve(Buffer.concat(chunks)));
    doc.on('error', reject);
  });
  const text = (s: string) => (font ? s : s.replace(/[^\u0000-\u00ff]/g, '?'));
  if (font) doc.font(font);
  else doc.font('Helvetica');
  doc.fontSize(7).text(text('住民基本台帳カード Basic Resident Register Card'), { continued: false });
  doc.fontSize(5).text(text(items.form === 'form1' ? '様式第一 Form 1' : '様式第二 Form 2'));
  doc.moveDown(0.3);
  const photoWidth = 22 * mm;
  const textWidth = items.form === 'form2' ? 85.6 * mm - 6 * mm - photoWidth - 2 * mm : undefined;
  const top = doc.y;
  for (const [label, value] of faceLines(items)) {
    doc.fontSize(4.5).text(text(label), textWidth ? { width: textWidth } : {});
    doc.fontSize(6).text(text(value), textWidth ? { width: textWidth } : {});
  }
  if (items.form === 'form2') {
    const x = 85.6 * mm - 3 * mm - photoWidth;
    doc.rect(x, top, photoWidth, 28 * mm).stroke();
    doc.fontSize(5).text(text('写真 PHOTO'), x, top + 12 * mm, { width: photoWidth, align: 'center' });
  }
  doc.end();
  return done.then((pdf) => ({ pdf, missingFont: !font }));
}
