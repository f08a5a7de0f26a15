#!/usr/bin/env node
/**
 * The `vireo` command. Options use Triton's names where Triton has one; each can also come from
 * an environment variable (VIREO_ plus the option name in upper snake case).
 */
import { Command, Option } from 'commander';
import { VERSION } from '../server/version.js';
import { holdYoungGeneration } from './startup-heap.js';

/**
 * Each command's module (and what it imports: the server, the packager, the benchmark runner…) loads only
 * when that command runs; `vireo --help` and anything not naming a command first load them all. A server
 * thus never carries the packaging, batch and benchmark code (docs/ARCHITECTURE.md, "Execution pool").
 */
const COMMANDS: Record<string, () => Promise<Command>> = {
  serve: async () => (await import('./serve-command.js')).serveCommand(),
  build: async () => (await import('./build-command.js')).buildCommand(),
  k8s: async () => (await import('./k8s-command.js')).k8sCommand(),
  batch: async () => (await import('./batch-command.js')).batchCommand(),
  bench: async () => (await import('./bench-command.js')).benchCommand(),
  tune: async () => (await import('./tune-command.js')).tuneCommand(),
};

const program = new Command('vireo')
  .description('Vireo: a model serving runtime for Node.js (ONNX models over the Open Inference Protocol)')
  .version(VERSION, '-v, --version')
  // The program's options come before the command: after it they are the command's, so
  // `vireo batch --version 1` is the model version, not a request for the program's version.
  .enablePositionalOptions()
  .showHelpAfterError();

const named = process.argv[2];
// Before the server's modules load: their allocation burst would grow the young generation for good.
if (named === 'serve') holdYoungGeneration();
for (const name of named !== undefined && Object.hasOwn(COMMANDS, named) ? [named] : Object.keys(COMMANDS)) {
  program.addCommand(await COMMANDS[name]!());
}

program.addOption(new Option('--no-color', 'disable colours in help output').hideHelp());
// Accepted after the command too, as it was before options became positional.
for (const command of program.commands) command.addOption(new Option('--no-color', 'disable colours in help output').hideHelp());
await program.parseAsync(process.argv);
