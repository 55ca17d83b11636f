import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { projectRoot } from './project-root.ts';
import {
  AppPackageError,
  buildAppPackage,
  isGuid,
  loadAppPackageSources,
  manifestSchemaVersion,
  placeholderAppId,
} from './teams/app-package/build-app-package.ts';

// `lagebot package` (npm run package): build/lagebot.zip, the Teams app package to upload in the Teams
// admin centre or Developer Portal. Needs the devDependencies (ajv) and no network, and of the bot's
// configuration only MicrosoftAppId (main.ts reads nothing else for it: never the secret).

export interface RunPackageOptions {
  /** The project folder holding manifest/ and package.json. */
  root?: string;
  /** Where the zip goes; default <root>/build/lagebot.zip. */
  outFile?: string;
  log?: (line: string) => void;
  error?: (line: string) => void;
}

/** appIdSetting: MicrosoftAppId as set (undefined or empty: the placeholder id). */
export async function runPackage(appIdSetting: string | undefined, options: RunPackageOptions = {}): Promise<number> {
  const root = options.root ?? projectRoot;
  const outFile = options.outFile ?? join(root, 'build', 'lagebot.zip');
  const log = options.log ?? ((line: string) => console.log(line));
  const error = options.error ?? ((line: string) => console.error(line));

  const configured = appIdSetting?.trim() ? appIdSetting.trim() : undefined;
  if (configured !== undefined && !isGuid(configured)) {
    error(
      `MicrosoftAppId="${configured}" is not a GUID: set it to the "Microsoft App ID" shown on the Azure Bot's Configuration page.`,
    );
    return 2;
  }
  const appId = configured ?? placeholderAppId;

  let version: string;
  try {
    version = String((JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version?: unknown }).version);
  } catch (e) {
    error(`Cannot read the version from package.json: ${(e as Error).message}`);
    return 1;
  }

  try {
    const pkg = buildAppPackage(loadAppPackageSources(join(root, 'manifest')), { appId, version });
    mkdirSync(dirname(outFile), { recursive: true });
    writeFileSync(outFile, pkg.zip);
    const shown = relative(process.cwd(), outFile) || outFile;
    log(
      `Wrote ${shown} (${pkg.zip.length} bytes): Teams app manifest ${manifestSchemaVersion}, version ${version}, app id ${appId}`,
    );
    for (const entry of pkg.entries) log(`  ${entry.name.padEnd(16)} ${String(entry.data.length).padStart(7)} bytes`);
    if (configured === undefined) {
      log('');
      log(`MicrosoftAppId is not set, so the package carries the placeholder app id ${placeholderAppId}.`);
      log('That is fine for looking at the package, but Teams cannot reach a bot with it: set MicrosoftAppId');
      log('to the Azure Bot\'s Microsoft App ID and run "npm run package" again before uploading.');
    }
    return 0;
  } catch (e) {
    if (!(e instanceof AppPackageError)) throw e;
    error(`The Teams app package was not built (manifest/ has ${e.problems.length === 1 ? 'a problem' : 'problems'}):`);
    for (const line of e.problems) error(`  ${line}`);
    return 1;
  }
}
