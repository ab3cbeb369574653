import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { faceFont, faceRecord, renderFacePdf, type FaceItems } from '../../src/face/index.ts';
import { JukiError } from '../../src/util/index.ts';

const FORM2: FaceItems = {
  form: 'form2', name: '山田 花子', cardNumber: '131016-4A4B000007E500000001', municipality: '131016', municipalityName: '千代田区',
  issuedOn: '2025-06-01', validUntil: '2035-05-31', birthDate: '1990-01-01', sex: 'female', address: '東京都千代田区千代田一丁目1番1号',
};

function pdftotext(pdf: Buffer): string {
  const dir = mkdtempSync(join(tmpdir(), 'juki-face-'));
  writeFileSync(join(dir, 'f.pdf'), pdf);
  return execFileSync('pdftotext', ['-layout', join(dir, 'f.pdf'), '-'], { encoding: 'utf8' });
}

const hasPdftotext = (() => {
  try {
    execFileSync('pdftotext', ['-v'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

test('[R3.1.2e] face print job: Form 2 renders every printed item (name, birth date, sex, address, card number, validity, issuer) and the photo box', async () => {
  const { pdf, missingFont } = await renderFacePdf(FORM2);
  assert.equal(pdf.subarray(0, 5).toString('latin1'), '%PDF-');
  assert.equal(missingFont, faceFont() === undefined);
  if (!hasPdftotext) return; // the PDF header above is the check where poppler-utils is absent
  const text = pdftotext(pdf);
  for (const s of ['Form 2', '131016-4A4B000007E500000001', '2035-05-31', '1990-01-01', 'female', 'PHOTO']) assert.ok(text.includes(s), `${s} in ${text}`);
  if (!missingFont) for (const s of ['山田 花子', '千代田区', '東京都千代田区千代田一丁目1番1号']) assert.ok(text.includes(s), `${s} in ${text}`);
});

test('[R3.1.2e] face print job: Form 1 has no photo, birth date or address', async () => {
  const { form: _f, birthDate: _b, sex: _s, address: _a, ...rest } = FORM2;
  const { pdf } = await renderFacePdf({ ...rest, form: 'form1' });
  if (!hasPdftotext) return assert.equal(pdf.subarray(0, 5).toString('latin1'), '%PDF-');
  const text = pdftotext(pdf);
  assert.ok(text.includes('Form 1'));
  assert.ok(text.includes('131016-4A4B000007E500000001'));
  assert.ok(!text.includes('PHOTO'));
  assert.ok(!text.includes('1990-01-01'));
});

test('face record: canonical bytes of the printed items; bad items refused with the field named', () => {
  const a = new TextDecoder().decode(faceRecord(FORM2));
  assert.deepEqual(Object.keys(JSON.parse(a)), [...Object.keys(JSON.parse(a))].sort());
  assert.equal(JSON.parse(a).v, 'juki-face/1');
  assert.deepEqual(faceRecord(FORM2), faceRecord({ ...FORM2 }));
  assert.throws(() => faceRecord({ ...FORM2, validUntil: '2035/05/31' }), (e: unknown) => e instanceof JukiError && /validUntil: expected a date/.test(e.message));
  assert.throws(() => faceRecord({ ...FORM2, address: undefined }), (e: unknown) => e instanceof JukiError && /address: form2/.test(e.message));
});
