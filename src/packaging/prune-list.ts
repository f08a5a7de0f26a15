/**
 * What the image's builder stage deletes from node_modules besides what prune-script.ts removes by rule, and
 * why: an explicit list, each entry a file or directory of one package that node never loads when the server
 * (or a handler model importing one of Vireo's dependencies) runs. The rules an entry must meet:
 * - a package with an "exports" map: no export resolves to it under the conditions node sets (node, import,
 *   require, default, module-sync), node taking the first of them in each conditions object; conditions such as
 *   "browser", "react-native", "module" and "esnext" are bundlers' and never match in node;
 * - a package without one: its entry points ("main" and the root files meant for deep imports) never reach it;
 * - an entry point no package in the image imports (an "exports" key, or a deep import an "exports" pattern
 *   allows) is listed with `unlessImported`: the prune step searches
 *   every JavaScript file of the image for that specifier and keeps the files when it finds one.
 * A path a newer version no longer has is skipped. After deleting, the prune step checks that every
 * node-resolvable "main" and "exports" target still exists and imports each of Vireo's dependencies, so an
 * entry that a new version turns into an entry point fails the build instead of the server.
 * Licence files are never listed. test/unit/prune-list.test.ts checks each entry against the installed tree.
 */
export interface PruneEntry {
  /** The package name, as under node_modules/ (a nested copy of the same package is pruned too). */
  package: string;
  /** Paths inside the package, files or directories. */
  paths: string[];
  why: string;
  /** Keep the paths when a JavaScript file of the image contains this module specifier. */
  unlessImported?: string;
}

export const PRUNE_LIST: PruneEntry[] = [
  { package: '@opentelemetry/semantic-conventions', unlessImported: '@opentelemetry/semantic-conventions/incubating',
    paths: ['index-incubating', 'experimental_attributes', 'experimental_metrics', 'experimental_events'].flatMap((f) => [`dist/${f}.cjs`, `dist/${f}.mjs`]),
    why: 'the "./incubating" entry point (2.7 MB of unstable conventions); the OpenTelemetry packages import the stable "." entry only' },
  { package: 'csv-parse', paths: ['dist/umd', 'dist/iife'], why: 'browser bundles: no "exports" entry names them (node loads lib/ and dist/cjs)' },
  { package: 'protobufjs', paths: ['dist'],
    why: 'browser bundles (dist/protobuf.js, light/, minimal/): no "exports" map; main index.js, light.js and minimal.js load src/' },
  { package: '@fastify/swagger-ui', paths: ['static/swagger-ui.js'],
    why: 'the build of Swagger UI for bundlers: the page the plugin serves loads swagger-ui-bundle.js and swagger-ui-standalone-preset.js (lib/index-html.js)' },
  { package: 'lru-cache', paths: ['dist/commonjs/browser', 'dist/commonjs/react-native', 'dist/esm/browser', 'dist/esm/react-native'],
    why: 'exported only under the "browser" and "react-native" conditions' },
  { package: '@opentelemetry/api', paths: ['build/esm', 'build/esnext'], why: 'exported only under the bundler conditions "module" and "esnext" (node loads build/src)' },
  { package: '@opentelemetry/otlp-exporter-base', paths: ['build/esm', 'build/esnext'], why: 'exported only under the bundler conditions "module" and "esnext" (node loads build/src)' },
  { package: '@huggingface/tokenizers', paths: ['dist/tokenizers.min.cjs', 'dist/tokenizers.min.mjs'], why: 'minified copies no "exports" entry names' },
  { package: 'lossless-json', paths: ['dist'], why: 'a browser bundle no "exports" entry names (node loads lib/esm and lib/umd)' },
  { package: 'yaml', paths: ['browser'],
    why: 'the browser build: every "exports" entry names ./dist under "node" before ./browser under "default", and node takes the first condition it sets' },
  ...['Arrow.es2015.min', 'Arrow.esnext.min', 'Arrow.externs.es2015.min', 'Arrow.externs.esnext.min'].map((bundle) => ({
    package: 'apache-arrow', unlessImported: `apache-arrow/${bundle}`, paths: [`${bundle}.js`],
    why: `${bundle.includes('externs') ? 'Closure Compiler externs for the UMD bundle' : 'a minified UMD bundle of the whole library for script tags (0.2 MB)'}, reachable only as the deep import "${bundle}" through the "./*" pattern; node loads Arrow.node.mjs/.js` })),
  { package: '@grpc/proto-loader', paths: ['build/bin'],
    why: 'the proto-loader-gen-types CLI (TypeScript generation); it needs yargs, which INSTALL_ONLY_DEPENDENCIES leaves out, and build/src never requires it' },
  ...[['index', 'browser/esm'], ['sync', 'browser/esm/sync']].map(([file, entry]) => ({ package: 'csv-parse', unlessImported: `csv-parse/${entry}`, paths: [`dist/esm/${file}.js`],
    why: `the bundle for browsers behind the "./${entry}" entry point; in node "." and "./sync" load lib/ (import) and dist/cjs (require)` })),
  { package: 'sharp', paths: ['src'], why: 'C++ sources for npm install --build-from-source; the image loads the prebuilt @img/sharp-linux-x64' },
  { package: 'onnxruntime-node', paths: ['script'], why: 'the install script (it downloads CUDA libraries); dist/ never requires it' },
];

/**
 * Files node never reads, by name, anywhere under node_modules: tool configuration (linters, test runners, CI,
 * editors), TypeScript build info, and C/C++ sources and headers (prebuilt addons carry their binaries).
 */
export const UNUSED_FILE = /^(\.(eslintrc|eslintignore|nycrc|editorconfig|gitattributes|gitignore|npmignore|prettierrc|prettierignore|taprc|jshintrc|babelrc|mocharc|travis\.yml|borp\.yaml|markdownlint)\b.*|.*\.tsbuildinfo|.*\.(cc|cpp|c|h|hpp|gyp|gypi))$/i;

/**
 * Directories at a package's root that no entry point loads: CI, documentation, examples, benchmarks. Only at
 * the root (yaml's dist/doc/ is code) and only when main, exports and bin do not name them.
 */
export const UNUSED_ROOT_DIRS = ['.github', 'docs', 'doc', 'example', 'examples', 'benchmark', 'benchmarks', 'bench', 'e2e', 'coverage'];

/**
 * Vireo's own dependencies the image does not need: tsx loads TypeScript (the sources, model.ts handlers) in a
 * development checkout or an installed package; an image runs dist/ and handlers compiled to model.mjs.
 */
export const BUILD_ONLY_DEPENDENCIES = new Set(['tsx']);

/**
 * Dependencies the server runs without, left out of images for their size. koffi is the FFI through which
 * src/core/native-heap.ts gives the C heap's free memory back after model loads and unloads (13 MiB of an
 * idle examples/models, 30 of a 75 MB model: README, "Many models per server"); its binary for linux/x64
 * alone is 1.6 MB, which took the image of examples/models to 101.6 MB over its base, past issue 18's bound of
 * 100 MB (test/e2e/container.test.ts). Without it the server keeps what glibc keeps, as it did before.
 */
export const IMAGE_OMITTED_DEPENDENCIES = new Set(['koffi']);

/** Neither built nor copied into an image: BUILD_ONLY_DEPENDENCIES and IMAGE_OMITTED_DEPENDENCIES. */
export const NOT_IN_IMAGE = new Set([...BUILD_ONLY_DEPENDENCIES, ...IMAGE_OMITTED_DEPENDENCIES]);

/**
 * Dependencies a package uses only in its install script or command-line tool, never when required: vireo build
 * does not copy them (nor what only they need) into the image.
 */
export const INSTALL_ONLY_DEPENDENCIES: Record<string, string[]> = {
  // script/install.js fetches CUDA binaries at npm install; dist/ requires onnxruntime-common and the binding only.
  'onnxruntime-node': ['adm-zip', 'global-agent'],
  // bin/proto-loader-gen-types.js (TypeScript generation) parses its options with yargs; build/src never requires it.
  '@grpc/proto-loader': ['yargs'],
};
