#!/usr/bin/env node
/**
 * The `vireo` command. Options use Triton's names where Triton has one; each can also come from
 * an environment variable (VIREO_ plus the option name in upper snake case).
 */
import { Command, Option } from 'commander';
import { VERSION } from '../server/version.js';
import { batchCommand } from './batch-command.js';
import { benchCommand } from './bench-command.js';
import { buildCommand } from './build-command.js';
import { k8sCommand } from './k8s-command.js';
import { serveCommand } from './serve-command.js';
import { tuneCommand } from './tune-command.js';

const program = new Command('vireo')
  .description('Vireo: a model serving runtime for Node.js (ONNX models over the Open Inference Protocol)')
  .version(VERSION, '-v, --version')
  .showHelpAfterError();

program.addCommand(serveCommand());
program.addCommand(buildCommand());
program.addCommand(k8sCommand());
program.addCommand(batchCommand());
program.addCommand(benchCommand());
program.addCommand(tuneCommand());

program.addOption(new Option('--no-color', 'disable colours in help output').hideHelp());
await program.parseAsync(process.argv);
