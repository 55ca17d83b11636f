import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { createZip, type ZipEntry } from './create-zip.ts';
import { decodePng, PngError } from './decode-png.ts';

// The Teams app package: manifest.json with the bot's app id and version filled in, its localisation
// files and its two icons, flat in one zip, checked the way Teams checks them on upload so that a
// mistake shows up here and not in the Teams admin centre.
// Rules: learn.microsoft.com/microsoftteams/platform/resources/schema/manifest-schema (v1.22),
// .../concepts/build-and-test/apps-package (icons), .../concepts/build-and-test/apps-localization.

// ajv-formats is CommonJS; under NodeNext its default import is module.exports, whose `default` is the plugin.
const addFormats = addFormatsModule.default;

/** The manifest schema bundled in manifest/schema/ (see its README for the source). */
export const manifestSchemaVersion = '1.22';
/** Stands in for the Azure Bot's app id when MicrosoftAppId is not set: valid, obviously fake. */
export const placeholderAppId = '00000000-0000-0000-0000-000000000000';

const colorIconSize = 192;
const outlineIconSize = 32;
// Ajv reports every error with allErrors; past this many the rest is noise from the first mistake.
const maxReportedProblems = 25;

export interface AppPackageSources {
  /** manifest/manifest.json, parsed. */
  template: unknown;
  /** The files the manifest names (icons, localisation files), by file name. */
  files: ReadonlyMap<string, Uint8Array>;
  schemas: { manifest: object; localization: object };
}

export interface AppPackageOptions {
  /** The Azure Bot's Microsoft App ID: becomes the app id and the bot id. */
  appId: string;
  /** MAJOR.MINOR.PATCH; Teams wants it raised for every manifest change. */
  version: string;
}

export interface AppPackage {
  manifest: Record<string, unknown>;
  /** manifest.json first, then the named files in manifest order. */
  entries: ZipEntry[];
  zip: Buffer;
}

export class AppPackageError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
    this.name = 'AppPackageError';
  }
}

const guidPattern = /^[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$/;
// The schema only says "semver"; Teams rejects pre-release and build suffixes, so plain n.n.n.
const versionPattern = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$/;

export function isGuid(text: string): boolean {
  return guidPattern.test(text);
}

/** Fills in app id and version, checks manifest, localisations and icons, and zips them. Throws AppPackageError. */
export function buildAppPackage(sources: AppPackageSources, options: AppPackageOptions): AppPackage {
  const problems: string[] = [];
  if (!isGuid(options.appId)) {
    problems.push(`app id "${options.appId}" is not a GUID: use the Microsoft App ID of the Azure Bot registration`);
  }
  if (!versionPattern.test(options.version)) {
    problems.push(`version "${options.version}" is not MAJOR.MINOR.PATCH (Teams accepts digits only, e.g. 1.4.0)`);
  }
  if (!isObject(sources.template)) throw new AppPackageError(['manifest.json: expected a JSON object']);
  const manifest = fillIn(sources.template, options);
  const validators = compileSchemas(sources.schemas);

  problems.push(...schemaProblems('manifest.json', validators.manifest, manifest));
  const bots = manifest.bots;
  if (!Array.isArray(bots) || bots.length === 0) {
    problems.push('manifest.json: no bot in "bots": Lagebot is a bot app, the package needs bots[0] with its botId');
  }

  const named = namedFiles(manifest, problems);
  const entries: ZipEntry[] = [{ name: 'manifest.json', data: Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`) }];
  for (const { name, role } of named) {
    const data = sources.files.get(name);
    if (data === undefined) {
      problems.push(`manifest.json names ${role} "${name}", but there is no such file next to the manifest`);
      continue;
    }
    if (role === 'colour icon') problems.push(...iconProblems(name, data, colorIconSize, false));
    else if (role === 'outline icon') problems.push(...iconProblems(name, data, outlineIconSize, true));
    else problems.push(...localizationProblems(name, data, manifest, validators.localization));
    entries.push({ name, data });
  }

  if (problems.length > maxReportedProblems) {
    problems.splice(maxReportedProblems, problems.length, `… and ${problems.length - maxReportedProblems} more`);
  }
  if (problems.length > 0) throw new AppPackageError(problems);
  return { manifest, entries, zip: createZip(entries) };
}

/** Reads manifest/manifest.json, the bundled schemas and every file the manifest names. */
export function loadAppPackageSources(manifestDir: string): AppPackageSources {
  const template = readJson(join(manifestDir, 'manifest.json'), 'manifest.json');
  const schemas = {
    manifest: readJson(join(manifestDir, 'schema', 'MicrosoftTeams.schema.json'), 'schema/MicrosoftTeams.schema.json'),
    localization: readJson(
      join(manifestDir, 'schema', 'MicrosoftTeams.Localization.schema.json'),
      'schema/MicrosoftTeams.Localization.schema.json',
    ),
  };
  const files = new Map<string, Uint8Array>();
  if (isObject(template)) {
    for (const { name } of namedFiles(template, [])) {
      const path = join(manifestDir, name);
      if (existsSync(path)) files.set(name, readFileSync(path));
    }
  }
  return { template, files, schemas: schemas as AppPackageSources['schemas'] };
}

function readJson(path: string, label: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new AppPackageError([`${label} cannot be read (${(error as NodeJS.ErrnoException).code ?? error})`]);
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new AppPackageError([`${label} is not valid JSON: ${(error as Error).message}`]);
  }
}

function fillIn(template: Record<string, unknown>, options: AppPackageOptions): Record<string, unknown> {
  const manifest = structuredClone(template);
  manifest.id = options.appId;
  manifest.version = options.version;
  if (Array.isArray(manifest.bots) && isObject(manifest.bots[0])) manifest.bots[0].botId = options.appId;
  return manifest;
}

interface Validators {
  manifest: ValidateFunction;
  localization: ValidateFunction;
}

const compiled = new WeakMap<object, Validators>();

function compileSchemas(schemas: AppPackageSources['schemas']): Validators {
  const cached = compiled.get(schemas.manifest);
  if (cached && compiled.get(schemas.localization) === cached) return cached;
  // Microsoft publishes these as draft-04, for which Ajv 8 has no meta-schema: skip meta-validation
  // (they use no draft-04-only keyword; test/unit/manifest checks that). Some of their patterns
  // (e.g. `\b]`) are only valid without the regex `u` flag.
  const ajv = new Ajv({ strict: false, allErrors: true, validateSchema: false, unicodeRegExp: false });
  addFormats(ajv);
  const validators = { manifest: ajv.compile(schemas.manifest), localization: ajv.compile(schemas.localization) };
  compiled.set(schemas.manifest, validators);
  compiled.set(schemas.localization, validators);
  return validators;
}

function schemaProblems(file: string, validate: ValidateFunction, data: unknown): string[] {
  if (validate(data)) return [];
  return (validate.errors ?? []).map((e) => `${file}: ${e.instancePath || '(top level)'} ${describe(e)}`);
}

function describe(e: ErrorObject): string {
  const p = e.params as Record<string, unknown>;
  if (e.keyword === 'additionalProperties') return `has an unknown property "${String(p.additionalProperty)}"`;
  if (e.keyword === 'enum') return `${e.message}: ${JSON.stringify(p.allowedValues)}`;
  if (e.keyword === 'const') return `must be ${JSON.stringify(p.allowedValue)}`;
  return e.message ?? e.keyword;
}

type FileRole = 'colour icon' | 'outline icon' | 'localisation file';

/** The files a manifest refers to, in manifest order; records a problem for names that are not flat. */
function namedFiles(manifest: Record<string, unknown>, problems: string[]): Array<{ name: string; role: FileRole }> {
  const out: Array<{ name: string; role: FileRole }> = [];
  const add = (name: unknown, role: FileRole) => {
    if (typeof name !== 'string' || name === '') return; // the schema reports missing or wrong types
    if (name.includes('/') || name.includes('\\') || name === 'manifest.json') {
      problems.push(`manifest.json: ${role} "${name}" must be a plain file name next to manifest.json`);
      return;
    }
    if (!out.some((f) => f.name === name)) out.push({ name, role });
  };
  const icons = isObject(manifest.icons) ? manifest.icons : {};
  add(icons.color, 'colour icon');
  add(icons.outline, 'outline icon');
  const l10n = isObject(manifest.localizationInfo) ? manifest.localizationInfo : {};
  add(l10n.defaultLanguageFile, 'localisation file');
  for (const lang of Array.isArray(l10n.additionalLanguages) ? l10n.additionalLanguages : []) {
    if (isObject(lang)) add(lang.file, 'localisation file');
  }
  return out;
}

function iconProblems(name: string, data: Uint8Array, size: number, outline: boolean): string[] {
  let png: ReturnType<typeof decodePng>;
  try {
    png = decodePng(data);
  } catch (error) {
    if (error instanceof PngError) return [`${name}: ${error.message}`];
    throw error;
  }
  const problems: string[] = [];
  if (png.width !== size || png.height !== size) {
    problems.push(`${name}: is ${png.width}x${png.height}, Teams needs ${size}x${size}`);
  }
  if (!outline) return problems;
  if (!png.hasAlpha) {
    problems.push(`${name}: has no transparency; the outline icon must be white on a transparent background`);
    return problems;
  }
  if (png.rgba === null) {
    problems.push(`${name}: save it as an 8-bit RGBA PNG (non-interlaced) so its colours can be checked`);
    return problems;
  }
  let transparent = 0;
  let white = 0;
  let other = 0;
  for (let i = 0; i < png.rgba.length; i += 4) {
    const [r, g, b, a] = [png.rgba[i]!, png.rgba[i + 1]!, png.rgba[i + 2]!, png.rgba[i + 3]!];
    if (a === 0) transparent++;
    // Faint edge pixels of anti-aliasing may carry any colour; what is visible must be white.
    else if (a < 32) continue;
    else if (r >= 240 && g >= 240 && b >= 240) white++;
    else other++;
  }
  if (transparent === 0) problems.push(`${name}: has no transparent pixel; the background must be transparent`);
  if (white === 0) problems.push(`${name}: has no white pixel; the symbol must be drawn in white`);
  if (other > 0) problems.push(`${name}: ${other} visible pixels are not white; the outline icon may only be white`);
  return problems;
}

// "bots[0].commandLists[1].commands[2].title": the key syntax of Teams localisation files.
const commandKey = /^bots\[0\]\.commandLists\[(\d+)\]\.commands\[(\d+)\]\.(title|description)$/;

function localizationProblems(
  name: string,
  data: Uint8Array,
  manifest: Record<string, unknown>,
  validate: ValidateFunction,
): string[] {
  let strings: unknown;
  try {
    strings = JSON.parse(Buffer.from(data).toString('utf8'));
  } catch (error) {
    return [`${name}: not valid JSON: ${(error as Error).message}`];
  }
  const problems = schemaProblems(name, validate, strings);
  if (!isObject(strings)) return problems;
  // A translation must point at a command that exists, and every command needs one: a client in this
  // language would otherwise see a mix of both languages in the command menu.
  const lists = Array.isArray(manifest.bots) && isObject(manifest.bots[0]) ? manifest.bots[0].commandLists : undefined;
  const commands: Array<{ list: number; index: number }> = [];
  if (Array.isArray(lists)) {
    for (const [l, list] of lists.entries()) {
      if (!isObject(list) || !Array.isArray(list.commands)) continue;
      for (const c of list.commands.keys()) commands.push({ list: l, index: c });
    }
  }
  for (const key of Object.keys(strings)) {
    const m = commandKey.exec(key);
    if (m && !commands.some((c) => c.list === Number(m[1]) && c.index === Number(m[2]))) {
      problems.push(`${name}: "${key}" translates a command that manifest.json does not have`);
    }
  }
  for (const c of commands) {
    for (const field of ['title', 'description']) {
      const key = `bots[0].commandLists[${c.list}].commands[${c.index}].${field}`;
      if (typeof strings[key] !== 'string') problems.push(`${name}: "${key}" is missing`);
    }
  }
  return problems;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
