import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { topLevelDomains } from '../../../src/mail-lab/write-lab-config.ts';

// The lab's rspamd gets the top-level domains of the public suffix list as its URL suffixes: the
// comments, the blank lines and every suffix of more than one label are left out.

test('topLevelDomains keeps the single-label entries of a public suffix list', () => {
  const list = [
    '// ===BEGIN ICANN DOMAINS===',
    '',
    '// de : https://www.iana.org/domains/root/db/de.html',
    'de',
    '  com  ',
    'co.uk',
    '*.ck',
    '!www.ck',
    'рф',
    '// ===BEGIN PRIVATE DOMAINS===',
    'github.io',
  ].join('\n');
  assert.equal(topLevelDomains(list), 'de\ncom\nрф\n');
});

const debianList = '/usr/share/rspamd/effective_tld_names.dat';
test("topLevelDomains on Debian's list: every top-level domain, no suffix with a dot", {
  skip: existsSync(debianList) ? false : 'needs Debian rspamd',
}, () => {
  const tlds = topLevelDomains(readFileSync(debianList, 'utf8')).trim().split('\n');
  assert.ok(tlds.length > 1000, `${tlds.length} top-level domains`);
  for (const tld of ['de', 'com', 'org', 'net', 'eu', 'nrw']) assert.ok(tlds.includes(tld), tld);
  assert.equal(tlds.filter((t) => t.includes('.') || t.startsWith('//')).length, 0);
});
