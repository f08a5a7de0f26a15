/** `vireo build`: write a reproducible build context for an image of Vireo and its models, then build it. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, InvalidArgumentError, Option } from 'commander';
import { DEFAULT_EPOCH, writeBuildContext } from '../packaging/build-context.js';
import { DEFAULT_BASE, DEFAULT_MODELS_BASE } from '../packaging/containerfile.js';
import { buildCommands, buildImage, formatBytes, hasBuildah, imageSize, pushImage } from '../packaging/image-builder.js';
import { inventory } from '../packaging/model-inventory.js';
import { PackagingError } from '../packaging/packaging-error.js';
import { VERSION } from '../server/version.js';

/** The package this CLI runs from: src/cli/ and dist/cli/ both sit two levels below it. */
const PACKAGE_ROOT = fileURLToPath(new URL('../..', import.meta.url));

// An image reference: [registry[:port]/]path[:tag]; lowercase path components as OCI distribution requires.
const TAG = /^(?:[a-z0-9.-]+(?::\d+)?\/)?[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*:[\w][\w.-]{0,127}$/;

function tag(value: string): string {
  if (!TAG.test(value)) throw new InvalidArgumentError('expected name:tag (lowercase name, e.g. my-models:1.0)');
  return value;
}

function output(value: string): string {
  const match = /^(oci-archive|docker-archive|dir):(.+)$/.exec(value);
  if (!match) throw new InvalidArgumentError('expected oci-archive:<file>, docker-archive:<file> or dir:<dir>');
  return `${match[1]}:${resolve(match[2]!)}`;
}

function epoch(): number {
  const fromEnv = process.env.SOURCE_DATE_EPOCH;
  if (fromEnv === undefined) return DEFAULT_EPOCH;
  const n = Number(fromEnv);
  if (!Number.isSafeInteger(n) || n < 0) throw new PackagingError(`SOURCE_DATE_EPOCH must be a non-negative integer, got ${fromEnv}`);
  return n;
}

const collect = (value: string, previous: string[]) => [...previous, value];

export function buildCommand(): Command {
  return new Command('build')
    .description('build an OCI image of Vireo serving a model repository (buildah), or write its build context')
    .requiredOption('--model-repository <dir>', 'the model repository to put in the image')
    .requiredOption('--tag <name:tag>', 'the image name and tag', tag)
    .option('--base <image>', `base image: node >= 22 on glibc linux/x64 (default ${DEFAULT_BASE}); with --models-only any image, or scratch (default ${DEFAULT_MODELS_BASE}: KServe's modelcar needs a shell)`)
    .option('--models-only', 'an image of only the model repository under /models, for KServe\'s oci:// modelcars (handler models compiled)')
    .option('--output <dest>', 'also write the image to oci-archive:<file>, docker-archive:<file> or dir:<dir>', output)
    .option('--model <name>', 'put only this model in the image (repeatable; default: every model)', collect, [])
    .option('--context <dir>', 'write the build context here and keep it (default: a temporary directory)')
    .option('--no-build', 'only write the build context and print the build commands')
    .addOption(new Option('--storage-driver <driver>', "buildah's storage driver (e.g. vfs)").env('STORAGE_DRIVER'))
    .addOption(new Option('--isolation <kind>', "buildah's isolation").choices(['oci', 'chroot', 'rootless']).env('BUILDAH_ISOLATION'))
    .action(async (opts) => {
      const say = (line: string) => process.stderr.write(line + '\n');
      try {
        const repository = resolve(opts.modelRepository);
        const models = await inventory(repository, opts.model);
        const build = opts.build && hasBuildah();
        const keep = opts.context !== undefined || !build;
        const contextDir = opts.context ? (isAbsolute(opts.context) ? opts.context : resolve(opts.context)) : await mkdtemp(join(tmpdir(), 'vireo-build-'));
        const time = epoch();
        const base: string = opts.base ?? (opts.modelsOnly ? DEFAULT_MODELS_BASE : DEFAULT_BASE);
        say(`vireo build ${opts.tag}: ${models.map((m) => `${m.name} (v${m.versions.join(',')})`).join(', ')} on ${base}`);
        const context = await writeBuildContext({
          packageRoot: PACKAGE_ROOT, modelRepository: repository, models, contextDir, epoch: time, base, version: VERSION, modelsOnly: Boolean(opts.modelsOnly),
          onStep: (message) => say(`  context: ${message}`),
        });
        say(`  context: ${context.dir} (${context.files} files, ${formatBytes(context.bytes)}, sha256 ${context.digest.slice(0, 16)})`);
        if (!build) {
          if (opts.build) say('buildah is not installed: build the context with one of');
          else say('build the context with one of');
          for (const command of buildCommands(context.dir, opts.tag)) process.stdout.write(command + '\n');
          return;
        }
        const buildah = { storageDriver: opts.storageDriver, isolation: opts.isolation };
        await buildImage(context.dir, opts.tag, time, buildah, (line) => say(`  ${line}`));
        const size = imageSize(opts.tag, base, buildah);
        if (opts.output) {
          say(`  writing ${opts.output}`);
          pushImage(opts.tag, opts.output, buildah);
        }
        if (!keep) await rm(context.dir, { recursive: true, force: true });
        process.stdout.write(`built ${opts.tag}: ${formatBytes(size.total)} (${formatBytes(size.added)} over the base ${base}, ${formatBytes(size.base)})\n`);
      } catch (error) {
        if (!(error instanceof PackagingError)) throw error;
        say(`vireo build: ${error.message}`);
        process.exitCode = 1;
      }
    });
}
