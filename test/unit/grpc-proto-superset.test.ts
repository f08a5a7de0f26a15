/**
 * Vireo serves Triton's grpc_service.proto. That is only safe for OIP clients if every message the
 * Open Inference Protocol proto defines exists in it with the same field numbers, types and labels
 * (and oneof membership), recursively through nested and map-entry types, and if every OIP RPC has
 * the same request and response types. This test compares the two descriptors field by field.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { it } from 'node:test';
import { loadSync, type MessageTypeDefinition, type PackageDefinition } from '@grpc/proto-loader';

const root = join(import.meta.dirname, '..', '..');
const options = { keepCase: true };
const triton = loadSync('grpc_service.proto', { ...options, includeDirs: [join(root, 'proto', 'triton')] });
const oip = loadSync('open_inference_grpc.proto', { ...options, includeDirs: [join(root, 'test', 'fixtures', 'open-inference-protocol')] });

interface FieldDescriptor { name: string; number: number; label: string; type: string; typeName: string; oneofIndex?: number }
interface Descriptor { name: string; field: FieldDescriptor[]; nestedType: Descriptor[]; oneofDecl: { name: string }[] }

function messages(pd: PackageDefinition): Map<string, Descriptor> {
  const out = new Map<string, Descriptor>();
  for (const [name, def] of Object.entries(pd)) {
    if ((def as MessageTypeDefinition<unknown, unknown>).format === 'Protocol Buffer 3 DescriptorProto') out.set(name, (def as MessageTypeDefinition<unknown, unknown>).type as Descriptor);
  }
  return out;
}

/** Every difference between an OIP message and Triton's, as readable lines (empty when compatible). */
function compare(path: string, expected: Descriptor, actual: Descriptor | undefined): string[] {
  if (!actual) return [`${path}: missing from Triton's proto`];
  const problems: string[] = [];
  for (const f of expected.field) {
    const g = actual.field.find((x) => x.number === f.number);
    const where = `${path}.${f.name} = ${f.number}`;
    if (!g) { problems.push(`${where}: no field with this number`); continue; }
    if (g.name !== f.name) problems.push(`${where}: named ${g.name} in Triton`);
    if (g.type !== f.type || g.label !== f.label) problems.push(`${where}: ${f.label} ${f.type} vs ${g.label} ${g.type}`);
    if (g.typeName.split('.').at(-1) !== f.typeName.split('.').at(-1)) problems.push(`${where}: type ${f.typeName} vs ${g.typeName}`);
    const oneofOf = (d: Descriptor, x: FieldDescriptor) => (x.oneofIndex === undefined ? undefined : d.oneofDecl[x.oneofIndex]?.name);
    if (oneofOf(expected, f) !== oneofOf(actual, g)) problems.push(`${where}: oneof ${oneofOf(expected, f)} vs ${oneofOf(actual, g)}`);
  }
  for (const nested of expected.nestedType) {
    problems.push(...compare(`${path}.${nested.name}`, nested, actual.nestedType.find((n) => n.name === nested.name)));
  }
  return problems;
}

it('every OIP message exists in Triton\'s proto with the same field numbers, types and oneofs', () => {
  const ours = messages(triton);
  const theirs = messages(oip);
  assert.ok(theirs.size === 14, `expected the OIP messages, found ${theirs.size}`);
  const problems = [...theirs].flatMap(([name, descriptor]) => compare(name, descriptor, ours.get(name)));
  assert.deepEqual(problems, []);
});

it('every OIP RPC exists in Triton\'s service with the same request and response types and streaming', () => {
  const service = 'inference.GRPCInferenceService';
  const expected = oip[service] as Record<string, { path: string; requestStream: boolean; responseStream: boolean; requestType: { type: { name: string } }; responseType: { type: { name: string } } }>;
  const actual = triton[service] as typeof expected;
  assert.ok(Object.keys(expected).length === 6);
  for (const [rpc, def] of Object.entries(expected)) {
    const ours = actual[rpc];
    assert.ok(ours, `${rpc} missing`);
    assert.equal(ours.path, def.path);
    assert.equal(ours.requestStream, def.requestStream);
    assert.equal(ours.responseStream, def.responseStream);
    assert.equal(ours.requestType.type.name, def.requestType.type.name);
    assert.equal(ours.responseType.type.name, def.responseType.type.name);
  }
});

it('a compatible copy is detected as such and a renumbered field is not (the comparison can fail)', () => {
  const original = messages(oip).get('inference.ModelInferRequest')!;
  assert.deepEqual(compare('x', original, original), []);
  const renumbered = structuredClone(original);
  renumbered.field.find((f) => f.name === 'raw_input_contents')!.number = 8;
  assert.equal(compare('x', original, renumbered).length, 1);
  const retyped = structuredClone(original);
  retyped.nestedType.find((n) => n.name === 'InferInputTensor')!.field.find((f) => f.name === 'shape')!.type = 'TYPE_INT32';
  assert.match(compare('x', original, retyped).join(), /InferInputTensor\.shape/);
});
