/** The card face: printed items, the face record for the basic area, and the PDF print job (docs/counter.md "Face print job"). */
export { FACE_FORMS, checkFaceItems, faceLines, faceRecord, faceFont, renderFacePdf } from './print.ts';
export type { FaceForm, FaceItems, RenderedFace } from './print.ts';
