import { deflateRawSync } from 'node:zlib';
import { crc32 } from './crc32.ts';

// A minimal zip writer (PKWARE APPNOTE 6.3.x, sections 4.3.7 local header, 4.3.12 central directory,
// 4.3.16 end of central directory): flat entries, deflate or store, no zip64, no encryption. Enough for a
// Teams app package, which must hold its files at the root of the zip.

export interface ZipEntry {
  name: string;
  data: Uint8Array;
}

// A fixed timestamp makes the same inputs give the same bytes (reproducible packages, comparable
// checksums). 2024-02-01 00:00 in MS-DOS format: ((year-1980)<<9)|(month<<5)|day, time 0.
const dosDate = ((2024 - 1980) << 9) | (2 << 5) | 1;
const dosTime = 0;
const utf8NamesFlag = 0x0800; // general purpose bit 11: names are UTF-8
const maxEntries = 0xffff;
const maxSize = 0xfffffffe; // beyond this zip64 would be needed

export function createZip(entries: readonly ZipEntry[]): Buffer {
  if (entries.length > maxEntries) throw new RangeError(`a zip without zip64 holds at most ${maxEntries} entries`);
  const seen = new Set<string>();
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const entry of entries) {
    if (
      entry.name === '' ||
      entry.name.startsWith('/') ||
      entry.name.includes('\\') ||
      entry.name.split('/').includes('..')
    ) {
      throw new RangeError(`zip entry name "${entry.name}" must be a relative path without ".." or backslashes`);
    }
    if (seen.has(entry.name)) throw new RangeError(`zip entry "${entry.name}" is there twice`);
    seen.add(entry.name);
    if (entry.data.length > maxSize)
      throw new RangeError(`zip entry "${entry.name}" is too large for a zip without zip64`);
    const name = Buffer.from(entry.name, 'utf8');
    const deflated = deflateRawSync(entry.data, { level: 9 });
    // Already-compressed data (PNG) can grow when deflated: store it then.
    const stored = deflated.length >= entry.data.length;
    const body = stored ? Buffer.from(entry.data) : deflated;
    const method = stored ? 0 : 8;
    const crc = crc32(entry.data);

    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4); // version needed: 2.0 (deflate)
    local.writeUInt16LE(utf8NamesFlag, 6);
    local.writeUInt16LE(method, 8);
    local.writeUInt16LE(dosTime, 10);
    local.writeUInt16LE(dosDate, 12);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(body.length, 18);
    local.writeUInt32LE(entry.data.length, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(0, 28); // extra field length
    locals.push(local, name, body);

    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE((3 << 8) | 20, 4); // made by: UNIX, spec 2.0
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(utf8NamesFlag, 8);
    central.writeUInt16LE(method, 10);
    central.writeUInt16LE(dosTime, 12);
    central.writeUInt16LE(dosDate, 14);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(body.length, 20);
    central.writeUInt32LE(entry.data.length, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt16LE(0, 30); // extra
    central.writeUInt16LE(0, 32); // comment
    central.writeUInt16LE(0, 34); // disk number
    central.writeUInt16LE(0, 36); // internal attributes
    central.writeUInt32LE((0o100644 << 16) >>> 0, 38); // external: regular file, rw-r--r--
    central.writeUInt32LE(offset, 42);
    centrals.push(central, name);

    offset += local.length + name.length + body.length;
    if (offset > maxSize) throw new RangeError('zip too large for a zip without zip64');
  }
  const centralDirectory = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(0, 4); // this disk
  end.writeUInt16LE(0, 6); // disk with the central directory
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(centralDirectory.length, 12);
  end.writeUInt32LE(offset, 16);
  end.writeUInt16LE(0, 20); // comment length
  return Buffer.concat([...locals, centralDirectory, end]);
}
