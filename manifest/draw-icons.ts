// Draws the Lagebot app icons: `npx tsx manifest/draw-icons.ts` rewrites manifest/color.png and
// manifest/outline.png. Run it only when the design changes; the PNGs are committed.
//
// Teams icon rules (learn.microsoft.com/microsoftteams/platform/concepts/build-and-test/apps-package):
// color.png 192x192, full colour, the symbol inside a ~120px safe area; outline.png 32x32, white on a
// transparent background, nothing but white and transparency.
// Motif: a shield (protection, the patch state) with a letter and a check mark (the approved release),
// in the house colours #1F4E79 (blue) and #F2C230 (yellow).
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodePng } from '../src/teams/app-package/encode-png.ts';

type Rgba = readonly [number, number, number, number];
type Shape = (x: number, y: number) => boolean;
interface Layer {
  shape: Shape;
  color: Rgba;
}

const blue: Rgba = [0x1f, 0x4e, 0x79, 255];
const yellow: Rgba = [0xf2, 0xc2, 0x30, 255];
const white: Rgba = [255, 255, 255, 255];

function shield(cx: number, top: number, halfWidth: number, shoulder: number, bottom: number): Shape {
  return (x, y) => {
    const dx = Math.abs(x - cx);
    if (dx > halfWidth || y > bottom) return false;
    // The top edge dips a little towards the middle, as on a heraldic shield.
    if (y < top + 0.08 * (bottom - top) * (1 - (dx / halfWidth) ** 2) * 0.5) return false;
    if (y <= shoulder) return true;
    return dx <= halfWidth * Math.cos(((y - shoulder) / (bottom - shoulder)) * (Math.PI / 2));
  };
}

function segment(ax: number, ay: number, bx: number, by: number, width: number): Shape {
  return (x, y) => {
    const vx = bx - ax;
    const vy = by - ay;
    const t = Math.max(0, Math.min(1, ((x - ax) * vx + (y - ay) * vy) / (vx * vx + vy * vy)));
    return Math.hypot(x - (ax + t * vx), y - (ay + t * vy)) <= width / 2;
  };
}

const any =
  (...shapes: Shape[]): Shape =>
  (x, y) =>
    shapes.some((s) => s(x, y));
const minus =
  (a: Shape, b: Shape): Shape =>
  (x, y) =>
    a(x, y) && !b(x, y);
const rect =
  (x0: number, y0: number, x1: number, y1: number): Shape =>
  (x, y) =>
    x >= x0 && x <= x1 && y >= y0 && y <= y1;
const circle =
  (cx: number, cy: number, r: number): Shape =>
  (x, y) =>
    (x - cx) ** 2 + (y - cy) ** 2 <= r * r;

/** Paints the layers in order onto a transparent canvas, 4x4 samples per pixel for smooth edges. */
function render(size: number, layers: Layer[]): Uint8Array {
  const n = 4;
  const out = new Uint8Array(size * size * 4);
  for (let py = 0; py < size; py++) {
    for (let px = 0; px < size; px++) {
      let r = 0;
      let g = 0;
      let b = 0;
      let a = 0;
      for (let sy = 0; sy < n; sy++) {
        for (let sx = 0; sx < n; sx++) {
          const x = px + (sx + 0.5) / n;
          const y = py + (sy + 0.5) / n;
          let c: Rgba = [0, 0, 0, 0];
          for (const layer of layers) if (layer.shape(x, y)) c = layer.color;
          // premultiplied, so transparent samples do not darken the edges
          r += (c[0] * c[3]) / 255;
          g += (c[1] * c[3]) / 255;
          b += (c[2] * c[3]) / 255;
          a += c[3];
        }
      }
      const i = (py * size + px) * 4;
      const alpha = a / (n * n);
      out[i] = alpha ? Math.round((r / (n * n)) * (255 / alpha)) : 0;
      out[i + 1] = alpha ? Math.round((g / (n * n)) * (255 / alpha)) : 0;
      out[i + 2] = alpha ? Math.round((b / (n * n)) * (255 / alpha)) : 0;
      out[i + 3] = Math.round(alpha);
    }
  }
  return out;
}

function drawColor(): Uint8Array {
  const s = 192;
  const outer = shield(96, 26, 60, 96, 170);
  const rim = minus(outer, shield(96, 34, 52, 98, 160));
  // the letter: body, and the flap as two strokes meeting in the middle
  const letter = rect(62, 66, 130, 114);
  const flap = any(segment(64, 68, 96, 94, 6), segment(128, 68, 96, 94, 6));
  const badge = circle(126, 120, 21);
  const check = any(segment(115, 120, 123, 129, 7), segment(123, 129, 138, 110, 7));
  return render(s, [
    { shape: rect(0, 0, s, s), color: blue },
    { shape: outer, color: yellow },
    { shape: rim, color: white },
    { shape: letter, color: blue },
    { shape: flap, color: yellow },
    { shape: circle(126, 120, 25), color: yellow },
    { shape: badge, color: white },
    { shape: check, color: blue },
  ]);
}

function drawOutline(): Uint8Array {
  const outer = shield(16, 2.5, 12.5, 16, 30);
  const inner = shield(16, 5, 10, 16.3, 26.6);
  const check = any(segment(10.5, 15.5, 14.5, 19.5, 2.6), segment(14.5, 19.5, 21.5, 11, 2.6));
  return render(32, [
    { shape: minus(outer, inner), color: white },
    { shape: check, color: white },
  ]);
}

const here = dirname(fileURLToPath(import.meta.url));
writeFileSync(join(here, 'color.png'), encodePng(192, 192, drawColor()));
writeFileSync(join(here, 'outline.png'), encodePng(32, 32, drawOutline()));
console.log(`wrote ${join(here, 'color.png')} and ${join(here, 'outline.png')}`);
