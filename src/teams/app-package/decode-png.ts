import { inflateSync } from 'node:zlib';
import { crc32 } from './crc32.ts';

// Reads what the Teams icon rules need from a PNG: size, colour type, whether it can be transparent,
// and, for the common 8-bit non-interlaced images, the pixels as RGBA (to check that the outline icon
// is white on transparent). PNG spec: W3C PNG 3rd edition, sections 5 (chunks), 9 (filters), 11 (IHDR, tRNS).

export interface PngInfo {
  width: number;
  height: number;
  bitDepth: number;
  colorType: 0 | 2 | 3 | 4 | 6;
  interlaced: boolean;
  /** An alpha channel (colour types 4, 6) or a tRNS chunk. */
  hasAlpha: boolean;
  /** RGBA pixels, row by row; null where this decoder does not unpack the format (16-bit, <8-bit, interlaced). */
  rgba: Uint8Array | null;
}

export class PngError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PngError';
  }
}

const signature = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const channelsOf: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

export function decodePng(bytes: Uint8Array): PngInfo {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < 8 || signature.some((b, i) => buf[i] !== b))
    throw new PngError('not a PNG file (signature missing)');
  let pos = 8;
  let header: Omit<PngInfo, 'hasAlpha' | 'rgba'> | null = null;
  let palette: Buffer | null = null;
  let transparency: Buffer | null = null;
  const idat: Buffer[] = [];
  let ended = false;
  while (pos + 12 <= buf.length) {
    const length = buf.readUInt32BE(pos);
    const type = buf.toString('latin1', pos + 4, pos + 8);
    if (pos + 12 + length > buf.length) throw new PngError(`chunk ${type} runs past the end of the file`);
    const data = buf.subarray(pos + 8, pos + 8 + length);
    const crc = buf.readUInt32BE(pos + 8 + length);
    if (crc32(data, crc32(buf.subarray(pos + 4, pos + 8))) !== crc) throw new PngError(`chunk ${type} has a bad CRC`);
    if (header === null && type !== 'IHDR') throw new PngError('IHDR is not the first chunk');
    if (type === 'IHDR') {
      if (length !== 13) throw new PngError('IHDR has the wrong length');
      const colorType = data[9]!;
      if (!(colorType in channelsOf)) throw new PngError(`unknown colour type ${colorType}`);
      header = {
        width: data.readUInt32BE(0),
        height: data.readUInt32BE(4),
        bitDepth: data[8]!,
        colorType: colorType as PngInfo['colorType'],
        interlaced: data[12] === 1,
      };
      if (header.width === 0 || header.height === 0) throw new PngError('IHDR has a zero width or height');
    } else if (type === 'PLTE') palette = data;
    else if (type === 'tRNS') transparency = data;
    else if (type === 'IDAT') idat.push(data);
    else if (type === 'IEND') {
      ended = true;
      break;
    }
    pos += 12 + length;
  }
  if (header === null) throw new PngError('no IHDR chunk');
  if (!ended) throw new PngError('no IEND chunk (file cut short?)');
  if (idat.length === 0) throw new PngError('no image data (IDAT)');
  const hasAlpha = header.colorType === 4 || header.colorType === 6 || transparency !== null;
  const decodable = header.bitDepth === 8 && !header.interlaced && (header.colorType !== 3 || palette !== null);
  return {
    ...header,
    hasAlpha,
    rgba: decodable ? unpack(header, Buffer.concat(idat), palette, transparency) : null,
  };
}

function unpack(
  h: { width: number; height: number; colorType: number },
  compressed: Buffer,
  palette: Buffer | null,
  trns: Buffer | null,
): Uint8Array {
  let raw: Buffer;
  try {
    raw = inflateSync(compressed);
  } catch (error) {
    throw new PngError(`image data does not inflate: ${(error as Error).message}`);
  }
  const bpp = channelsOf[h.colorType]!;
  const stride = h.width * bpp;
  if (raw.length < (stride + 1) * h.height) throw new PngError('image data is shorter than width x height');
  const lines = new Uint8Array(stride * h.height);
  for (let y = 0; y < h.height; y++) {
    const filter = raw[y * (stride + 1)]!;
    const src = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    const out = y * stride;
    const prev = y * stride - stride;
    for (let x = 0; x < stride; x++) {
      const a = x >= bpp ? lines[out + x - bpp]! : 0;
      const b = y > 0 ? lines[prev + x]! : 0;
      const c = x >= bpp && y > 0 ? lines[prev + x - bpp]! : 0;
      let v = src[x]!;
      if (filter === 1) v += a;
      else if (filter === 2) v += b;
      else if (filter === 3) v += (a + b) >> 1;
      else if (filter === 4) v += paeth(a, b, c);
      else if (filter !== 0) throw new PngError(`unknown filter type ${filter} in row ${y}`);
      lines[out + x] = v & 0xff;
    }
  }
  const rgba = new Uint8Array(h.width * h.height * 4);
  for (let i = 0; i < h.width * h.height; i++) {
    const p = lines.subarray(i * bpp, i * bpp + bpp);
    let r: number;
    let g: number;
    let b: number;
    let alpha = 255;
    if (h.colorType === 0 || h.colorType === 4) {
      r = g = b = p[0]!;
      if (h.colorType === 4) alpha = p[1]!;
      else if (trns && trns.length >= 2 && trns.readUInt16BE(0) === p[0]) alpha = 0;
    } else if (h.colorType === 3) {
      const index = p[0]!;
      r = palette![index * 3] ?? 0;
      g = palette![index * 3 + 1] ?? 0;
      b = palette![index * 3 + 2] ?? 0;
      alpha = trns && index < trns.length ? trns[index]! : 255;
    } else {
      r = p[0]!;
      g = p[1]!;
      b = p[2]!;
      if (h.colorType === 6) alpha = p[3]!;
      else if (
        trns &&
        trns.length >= 6 &&
        trns.readUInt16BE(0) === r &&
        trns.readUInt16BE(2) === g &&
        trns.readUInt16BE(4) === b
      )
        alpha = 0;
    }
    rgba.set([r, g, b, alpha], i * 4);
  }
  return rgba;
}

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}
