import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import { runPackage } from '../../../src/run-package.ts';
import {
  AppPackageError,
  type AppPackageSources,
  buildAppPackage,
  loadAppPackageSources,
  manifestSchemaVersion,
  placeholderAppId,
} from '../../../src/teams/app-package/build-app-package.ts';
import { decodePng } from '../../../src/teams/app-package/decode-png.ts';
import { encodePng } from '../../../src/teams/app-package/encode-png.ts';
import { withoutLagebotSettings } from '../../helpers/child-env.ts';
import { readZip } from './read-zip.ts';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const manifestDir = join(root, 'manifest');
const sources = loadAppPackageSources(manifestDir);
const appId = '3f2504e0-4f89-41d3-9a0c-0305e82c3301';
const options = { appId, version: '1.2.3' };

// biome-ignore lint/suspicious/noExplicitAny: the tests poke into parsed JSON
type Json = Record<string, any>;

function withTemplate(edit: (m: Json) => void): AppPackageSources {
  const template = structuredClone(sources.template) as Json;
  edit(template);
  return { ...sources, template };
}

function withFile(name: string, data: Uint8Array): AppPackageSources {
  return { ...sources, files: new Map([...sources.files, [name, data]]) };
}

function problemsOf(s: AppPackageSources, o = options): string[] {
  try {
    buildAppPackage(s, o);
  } catch (e) {
    if (e instanceof AppPackageError) return e.problems;
    throw e;
  }
  assert.fail('expected the package to be refused');
}

function solid(size: number, rgba: [number, number, number, number]): Buffer {
  const px = new Uint8Array(size * size * 4);
  for (let i = 0; i < size * size; i++) px.set(rgba, i * 4);
  return encodePng(size, size, px);
}

describe('the manifest template in manifest/', () => {
  test('carries the placeholder app id and builds with it', () => {
    assert.equal((sources.template as Json).manifestVersion, manifestSchemaVersion);
    assert.match(
      (sources.template as Json).$schema,
      new RegExp(`/v${manifestSchemaVersion}/MicrosoftTeams.schema.json$`),
    );
    assert.equal((sources.template as Json).id, placeholderAppId);
    buildAppPackage(sources, { appId: placeholderAppId, version: '0.0.0' });
  });

  test('offers the bot in personal, team and group chats, without files, with German commands and English strings', () => {
    const m = sources.template as Json;
    const bot = m.bots[0];
    assert.deepEqual([...bot.scopes].sort(), ['groupChat', 'personal', 'team']);
    assert.equal(bot.supportsFiles, false);
    const titles = new Set(bot.commandLists.flatMap((l: Json) => l.commands.map((c: Json) => c.title)));
    assert.deepEqual([...titles].sort(), ['alarme', 'anträge', 'freigabe', 'hilfe', 'protokoll', 'sperren', 'status']);
    assert.equal(m.localizationInfo.defaultLanguageTag, 'de');
    assert.deepEqual(m.localizationInfo.additionalLanguages, [{ languageTag: 'en', file: 'en.json' }]);
    assert.equal(m.webApplicationInfo, undefined);
  });

  test('the bundled schemas use no draft-04-only keyword, so Ajv (draft-07 semantics) reads them right', () => {
    const offending: string[] = [];
    const walk = (node: unknown, path: string, isSchema: boolean) => {
      if (Array.isArray(node)) {
        node.forEach((n, i) => {
          walk(n, `${path}/${i}`, isSchema);
        });
        return;
      }
      if (typeof node !== 'object' || node === null) return;
      for (const [k, v] of Object.entries(node)) {
        if (isSchema && k === 'id' && typeof v === 'string') offending.push(`${path}/id`);
        if (isSchema && (k === 'exclusiveMinimum' || k === 'exclusiveMaximum') && typeof v === 'boolean') {
          offending.push(`${path}/${k}`);
        }
        // Inside properties/definitions the keys are names, their values schemas.
        const mapOfSchemas = ['properties', 'patternProperties', 'definitions'].includes(k) && isSchema;
        if (mapOfSchemas && typeof v === 'object' && v !== null) {
          for (const [name, sub] of Object.entries(v)) walk(sub, `${path}/${k}/${name}`, true);
        } else if (k !== 'enum' && k !== 'const' && k !== 'default' && k !== 'examples') {
          walk(v, `${path}/${k}`, isSchema);
        }
      }
    };
    walk(sources.schemas.manifest, '', true);
    walk(sources.schemas.localization, '', true);
    assert.deepEqual(offending, []);
  });

  test('validates as it is against the bundled schema, and that schema is not lenient', () => {
    const ajv = new Ajv({ strict: false, validateSchema: false, unicodeRegExp: false });
    ajv.addFormat('uri', true);
    const validate = ajv.compile(sources.schemas.manifest);
    assert.equal(validate({ ...(sources.template as Json), colour: 'blau' }), false);
    assert.equal(validate(sources.template), true);
  });
});

describe('buildAppPackage', () => {
  test('zips exactly manifest.json, en.json and the two icons, with app id and version filled in', () => {
    const pkg = buildAppPackage(sources, options);
    const entries = readZip(pkg.zip);
    assert.deepEqual(entries.map((e) => e.name).sort(), ['color.png', 'en.json', 'manifest.json', 'outline.png']);
    const manifest = JSON.parse(entries.find((e) => e.name === 'manifest.json')!.data.toString('utf8'));
    assert.equal(manifest.id, appId);
    assert.equal(manifest.bots[0].botId, appId);
    assert.equal(manifest.version, '1.2.3');
    assert.deepEqual(manifest, pkg.manifest);
    for (const name of ['color.png', 'outline.png', 'en.json']) {
      assert.deepEqual(entries.find((e) => e.name === name)!.data, Buffer.from(readFileSync(join(manifestDir, name))));
    }
  });

  test('the icons in the package are 192x192 colour and 32x32 white on transparent', () => {
    const entries = readZip(buildAppPackage(sources, options).zip);
    const color = decodePng(entries.find((e) => e.name === 'color.png')!.data);
    const outline = decodePng(entries.find((e) => e.name === 'outline.png')!.data);
    assert.deepEqual([color.width, color.height], [192, 192]);
    assert.deepEqual([outline.width, outline.height], [32, 32]);
    const alphas = new Set<number>();
    for (let i = 0; i < outline.rgba!.length; i += 4) {
      alphas.add(outline.rgba![i + 3]!);
      if (outline.rgba![i + 3]! > 0) assert.deepEqual([...outline.rgba!.subarray(i, i + 3)], [255, 255, 255]);
    }
    assert.ok(alphas.has(0) && alphas.has(255));
    // The colour icon uses the house colours: its corner is the blue #1F4E79.
    assert.deepEqual([...color.rgba!.subarray(0, 4)], [0x1f, 0x4e, 0x79, 255]);
  });

  test('is reproducible: the same inputs give the same zip', () => {
    assert.deepEqual(buildAppPackage(sources, options).zip, buildAppPackage(sources, options).zip);
  });

  test('refuses a manifest without a bot', () => {
    const problems = problemsOf(withTemplate((m) => delete m.bots));
    assert.ok(
      problems.some((p) => /no bot in "bots"/.test(p)),
      problems.join('\n'),
    );
  });

  test('reports schema errors with the JSON path: wrong manifestVersion, unknown property, too long name', () => {
    const problems = problemsOf(
      withTemplate((m) => {
        m.manifestVersion = '1.5';
        m.farbe = 'blau';
        m.name.short = 'Lagebot, der Bot für die Lage in Südwestfalen';
      }),
    );
    assert.ok(problems.includes('manifest.json: /manifestVersion must be "1.22"'), problems.join('\n'));
    assert.ok(problems.includes('manifest.json: (top level) has an unknown property "farbe"'), problems.join('\n'));
    assert.ok(
      problems.includes('manifest.json: /name/short must NOT have more than 30 characters'),
      problems.join('\n'),
    );
  });

  test('reports a wrong bot scope with the allowed values', () => {
    const problems = problemsOf(withTemplate((m) => m.bots[0].scopes.push('channel')));
    assert.ok(
      problems.some((p) => p.startsWith('manifest.json: /bots/0/scopes/3 must be equal to one of the allowed values')),
      problems.join('\n'),
    );
  });

  test('refuses a version Teams does not take and an app id that is no GUID', () => {
    assert.deepEqual(problemsOf(sources, { appId, version: '1.0' }), [
      'version "1.0" is not MAJOR.MINOR.PATCH (Teams accepts digits only, e.g. 1.4.0)',
    ]);
    assert.ok(problemsOf(sources, { appId, version: '1.0.0-beta.1' })[0]!.startsWith('version "1.0.0-beta.1"'));
    const bad = problemsOf(sources, { appId: 'lagebot', version: '1.0.0' });
    assert.ok(bad[0]!.startsWith('app id "lagebot" is not a GUID'), bad.join('\n'));
  });

  test('refuses missing files and file names that are not flat', () => {
    const missing = problemsOf(withTemplate((m) => (m.icons.color = 'farbe.png')));
    assert.ok(
      missing.includes('manifest.json names colour icon "farbe.png", but there is no such file next to the manifest'),
    );
    const nested = problemsOf(withTemplate((m) => (m.icons.outline = 'icons/outline.png')));
    assert.ok(
      nested.some((p) => p.includes('"icons/outline.png" must be a plain file name')),
      nested.join('\n'),
    );
  });

  test('checks icon sizes', () => {
    const problems = problemsOf(withFile('color.png', solid(96, [0x1f, 0x4e, 0x79, 255])));
    assert.deepEqual(problems, ['color.png: is 96x96, Teams needs 192x192']);
  });

  test('checks that the outline icon is white on transparent', () => {
    assert.deepEqual(problemsOf(withFile('outline.png', solid(32, [255, 255, 255, 255]))), [
      'outline.png: has no transparent pixel; the background must be transparent',
    ]);
    const blue = problemsOf(withFile('outline.png', solid(32, [0x1f, 0x4e, 0x79, 255])));
    assert.ok(
      blue.includes('outline.png: 1024 visible pixels are not white; the outline icon may only be white'),
      blue.join('\n'),
    );
    assert.deepEqual(problemsOf(withFile('outline.png', Buffer.from('not a png'))), [
      'outline.png: not a PNG file (signature missing)',
    ]);
  });

  test('checks the English strings: schema, and one translation per command, no more', () => {
    const en = JSON.parse(readFileSync(join(manifestDir, 'en.json'), 'utf8')) as Json;
    delete en['bots[0].commandLists[1].commands[1].title'];
    en['bots[0].commandLists[0].commands[9].title'] = 'ghost';
    delete en['description.full'];
    const problems = problemsOf(withFile('en.json', Buffer.from(JSON.stringify(en))));
    assert.ok(
      problems.includes('en.json: "bots[0].commandLists[1].commands[1].title" is missing'),
      problems.join('\n'),
    );
    assert.ok(
      problems.includes(
        'en.json: "bots[0].commandLists[0].commands[9].title" translates a command that manifest.json does not have',
      ),
      problems.join('\n'),
    );
    assert.ok(
      problems.includes("en.json: (top level) must have required property 'description.full'"),
      problems.join('\n'),
    );
  });
});

describe('runPackage (lagebot package)', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'lagebot-package-'));
  after(() => rmSync(tmp, { recursive: true, force: true }));

  test('writes the zip with the configured app id and the version from package.json', async () => {
    const out = join(tmp, 'configured.zip');
    const lines: string[] = [];
    const code = await runPackage(appId, { outFile: out, log: (l) => lines.push(l), error: (l) => lines.push(l) });
    assert.equal(code, 0, lines.join('\n'));
    const manifest = JSON.parse(
      readZip(readFileSync(out))
        .find((e) => e.name === 'manifest.json')!
        .data.toString('utf8'),
    );
    const version = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version;
    assert.equal(manifest.id, appId);
    assert.equal(manifest.version, version);
    assert.ok(!lines.some((l) => l.includes('placeholder')), lines.join('\n'));
  });

  test('without MicrosoftAppId uses the placeholder and says so', async () => {
    const out = join(tmp, 'local.zip');
    const lines: string[] = [];
    const code = await runPackage(undefined, {
      outFile: out,
      log: (l) => lines.push(l),
      error: (l) => lines.push(l),
    });
    assert.equal(code, 0, lines.join('\n'));
    const manifest = JSON.parse(
      readZip(readFileSync(out))
        .find((e) => e.name === 'manifest.json')!
        .data.toString('utf8'),
    );
    assert.equal(manifest.bots[0].botId, placeholderAppId);
    assert.ok(
      lines.some((l) => l.includes(`placeholder app id ${placeholderAppId}`)),
      lines.join('\n'),
    );
  });

  test('refuses an app id that is not a GUID, before writing anything', async () => {
    const errors: string[] = [];
    const code = await runPackage('my-bot', {
      outFile: join(tmp, 'never.zip'),
      log: () => {},
      error: (l) => errors.push(l),
    });
    assert.equal(code, 2);
    assert.match(errors.join('\n'), /MicrosoftAppId="my-bot" is not a GUID/);
    assert.throws(() => readFileSync(join(tmp, 'never.zip')), { code: 'ENOENT' });
  });

  test('`npm run package` with only MicrosoftAppId set: the CLI builds and validates, reading nothing else of the config', () => {
    // Settings the bot would refuse to start with (a non-numeric port, outside local mode without a
    // secret or audit key): packaging must not look at them.
    const env = {
      ...withoutLagebotSettings(process.env),
      MicrosoftAppId: appId,
      PORT: 'not-a-port',
      REQUEST_TTL: 'forever',
    };
    const run = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'src', 'main.ts'), 'package'], {
      cwd: root,
      env,
      encoding: 'utf8',
      timeout: 60_000,
    });
    assert.equal(run.status, 0, `${run.stdout}\n${run.stderr}`);
    assert.match(run.stdout, new RegExp(`app id ${appId}`));
    assert.doesNotMatch(`${run.stdout}${run.stderr}`, /MicrosoftAppPassword|PORT|REQUEST_TTL/);
    const zip = readZip(readFileSync(join(root, 'build', 'lagebot.zip')));
    const manifest = JSON.parse(zip.find((e) => e.name === 'manifest.json')!.data.toString('utf8'));
    assert.equal(manifest.bots[0].botId, appId);

    const bad = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'src', 'main.ts'), 'package'], {
      cwd: root,
      env: { ...env, MicrosoftAppId: 'not-a-guid' },
      encoding: 'utf8',
      timeout: 60_000,
    });
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /MicrosoftAppId="not-a-guid" is not a GUID/);
  });
});
