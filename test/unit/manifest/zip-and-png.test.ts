import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import { deflateSync } from 'node:zlib';
import { crc32 } from '../../../src/teams/app-package/crc32.ts';
import { createZip } from '../../../src/teams/app-package/create-zip.ts';
import { decodePng, PngError } from '../../../src/teams/app-package/decode-png.ts';
import { encodePng } from '../../../src/teams/app-package/encode-png.ts';
import { readZip } from './read-zip.ts';

describe('crc32', () => {
  test('matches the standard check values', () => {
    // "123456789" → CBF43926 is the published check value of CRC-32/ISO-HDLC.
    assert.equal(crc32(Buffer.from('123456789')), 0xcbf43926);
    assert.equal(crc32(new Uint8Array(0)), 0);
    assert.equal(crc32(Buffer.from('The quick brown fox jumps over the lazy dog')), 0x414fa339);
  });

  test('can be computed in pieces', () => {
    const whole = Buffer.from('Lagebot Südverband');
    assert.equal(crc32(whole.subarray(7), crc32(whole.subarray(0, 7))), crc32(whole));
  });
});

describe('createZip', () => {
  const text = Buffer.from('{"name":"Lagebot"}\n'.repeat(50));
  // Hash output: incompressible, yet the same on every run.
  const noise = Buffer.concat(Array.from({ length: 10 }, (_, i) => createHash('sha256').update(`n${i}`).digest()));

  test('writes entries that an independent reader gets back byte for byte, with their CRCs', () => {
    const entries = readZip(
      createZip([
        { name: 'manifest.json', data: text },
        { name: 'noise.bin', data: noise },
        { name: 'leer.txt', data: new Uint8Array(0) },
      ]),
    );
    assert.deepEqual(
      entries.map((e) => e.name),
      ['manifest.json', 'noise.bin', 'leer.txt'],
    );
    assert.deepEqual(entries[0]!.data, text);
    assert.deepEqual(entries[1]!.data, noise);
    assert.equal(entries[2]!.data.length, 0);
    assert.equal(entries[0]!.crc, crc32(text));
    assert.equal(entries[1]!.crc, crc32(noise));
  });

  test('deflates what shrinks and stores what does not', () => {
    const [json, bin] = readZip(
      createZip([
        { name: 'a.json', data: text },
        { name: 'b.bin', data: noise },
      ]),
    );
    assert.equal(json!.method, 8);
    assert.equal(bin!.method, 0);
  });

  test('refuses names that would not land flat and safe, and duplicates', () => {
    for (const name of ['', '/etc/passwd', '../x', 'a\\b']) {
      assert.throws(() => createZip([{ name, data: text }]), RangeError, name);
    }
    assert.throws(
      () =>
        createZip([
          { name: 'a', data: text },
          { name: 'a', data: text },
        ]),
      /"a" is there twice/,
    );
  });

  test('the same entries give the same bytes', () => {
    const entries = [{ name: 'a.json', data: text }];
    assert.deepEqual(createZip(entries), createZip(entries));
  });
});

describe('PNG encode and decode', () => {
  const pixels = (w: number, h: number) => {
    const rgba = new Uint8Array(w * h * 4);
    for (let i = 0; i < w * h; i++) rgba.set([i % 256, (i * 3) % 256, 255 - (i % 256), i % 2 ? 255 : 0], i * 4);
    return rgba;
  };

  test('round-trips size and RGBA pixels', () => {
    const rgba = pixels(7, 5);
    const png = decodePng(encodePng(7, 5, rgba));
    assert.equal(png.width, 7);
    assert.equal(png.height, 5);
    assert.equal(png.colorType, 6);
    assert.equal(png.bitDepth, 8);
    assert.equal(png.hasAlpha, true);
    assert.deepEqual(png.rgba, rgba);
  });

  test('undoes all five row filters (Sub, Up, Average, Paeth) the way the spec defines them', () => {
    const w = 4;
    const h = 5;
    const rgb = Uint8Array.from({ length: w * h * 3 }, (_, i) => (i * 37 + (i >> 3) * 11) % 256);
    const stride = w * 3;
    const raw: number[] = [];
    for (let y = 0; y < h; y++) {
      const filter = y; // rows use filter 0, 1, 2, 3, 4
      raw.push(filter);
      for (let x = 0; x < stride; x++) {
        const cur = rgb[y * stride + x]!;
        const a = x >= 3 ? rgb[y * stride + x - 3]! : 0;
        const b = y > 0 ? rgb[(y - 1) * stride + x]! : 0;
        const c = x >= 3 && y > 0 ? rgb[(y - 1) * stride + x - 3]! : 0;
        const p = a + b - c;
        const paeth =
          Math.abs(p - a) <= Math.abs(p - b) && Math.abs(p - a) <= Math.abs(p - c)
            ? a
            : Math.abs(p - b) <= Math.abs(p - c)
              ? b
              : c;
        const predictor = [0, a, b, (a + b) >> 1, paeth][filter]!;
        raw.push((cur - predictor + 256) % 256);
      }
    }
    const png = handMadePng(w, h, 2, deflateSync(Buffer.from(raw)));
    const decoded = decodePng(png);
    assert.equal(decoded.hasAlpha, false);
    for (let i = 0; i < w * h; i++) {
      assert.deepEqual(
        [...decoded.rgba!.subarray(i * 4, i * 4 + 4)],
        [rgb[i * 3]!, rgb[i * 3 + 1]!, rgb[i * 3 + 2]!, 255],
      );
    }
  });

  test('reads a palette image with tRNS as transparent', () => {
    const raw = Buffer.from([0, 0, 1]); // one row, two pixels: palette index 0 and 1
    const png = handMadePng(2, 1, 3, deflateSync(raw), {
      PLTE: Buffer.from([255, 255, 255, 0, 0, 0]),
      tRNS: Buffer.from([0]), // index 0 fully transparent
    });
    const decoded = decodePng(png);
    assert.equal(decoded.hasAlpha, true);
    assert.deepEqual([...decoded.rgba!], [255, 255, 255, 0, 0, 0, 0, 255]);
  });

  test('refuses what is not a whole, intact PNG', () => {
    assert.throws(() => decodePng(Buffer.from('GIF89a....')), /not a PNG/);
    const good = encodePng(2, 2, new Uint8Array(16));
    assert.throws(() => decodePng(good.subarray(0, good.length - 12)), /no IEND/);
    const corrupt = Buffer.from(good);
    corrupt[20] = corrupt[20]! ^ 0xff; // inside IHDR data
    assert.throws(
      () => decodePng(corrupt),
      (e: unknown) => e instanceof PngError && /IHDR has a bad CRC/.test(e.message),
    );
  });

  test('encodePng refuses a pixel buffer of the wrong length', () => {
    assert.throws(() => encodePng(2, 2, new Uint8Array(15)), /expected 16 bytes/);
  });
});

function handMadePng(
  w: number,
  h: number,
  colorType: number,
  idat: Buffer,
  extra: Record<string, Buffer> = {},
): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const typeAndData = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(typeAndData));
    return Buffer.concat([len, typeAndData, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8;
  ihdr[9] = colorType;
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    ...Object.entries(extra).map(([type, data]) => chunk(type, data)),
    chunk('IDAT', idat),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}
