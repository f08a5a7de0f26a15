/**
 * The text codec over real HTTP: strings are tokenised with @huggingface/tokenizers from a
 * tokenizer.json the test writes (a tiny WordPiece vocabulary), and a generated model echoes the
 * ids and attention mask, which are checked against hand-tokenised expectations.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildModel } from '../../tools/modelgen/onnx-graph.js';
import { makeRepository } from '../helpers/repository.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const VOCAB = { '[PAD]': 0, '[UNK]': 1, hello: 2, world: 3, vireo: 4, '[CLS]': 5, '[SEP]': 6, model: 7, '##s': 8 };
const special = (content: string, id: number) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
const TOKENIZER = {
  version: '1.0',
  truncation: null,
  padding: null,
  added_tokens: [special('[PAD]', 0), special('[UNK]', 1), special('[CLS]', 5), special('[SEP]', 6)],
  normalizer: { type: 'Lowercase' },
  pre_tokenizer: { type: 'Whitespace' },
  post_processor: {
    type: 'TemplateProcessing',
    single: [{ SpecialToken: { id: '[CLS]', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '[SEP]', type_id: 0 } }],
    pair: [],
    special_tokens: { '[CLS]': { id: '[CLS]', ids: [5], tokens: ['[CLS]'] }, '[SEP]': { id: '[SEP]', ids: [6], tokens: ['[SEP]'] } },
  },
  decoder: null,
  model: { type: 'WordPiece', vocab: VOCAB, unk_token: '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: 100 },
};

/** input_ids and attention_mask (INT64 [batch, n]) echoed as IDS and MASK. */
function echoModel(): Uint8Array {
  return buildModel({
    name: 'echo_tokens',
    inputs: [{ name: 'input_ids', type: 'INT64', dims: ['batch', 'n'] }, { name: 'attention_mask', type: 'INT64', dims: ['batch', 'n'] }],
    outputs: [{ name: 'IDS', type: 'INT64', dims: ['batch', 'n'] }, { name: 'MASK', type: 'INT64', dims: ['batch', 'n'] }],
    nodes: [
      { op: 'Identity', inputs: ['input_ids'], outputs: ['IDS'] },
      { op: 'Identity', inputs: ['attention_mask'], outputs: ['MASK'] },
    ],
  });
}

const seq = { data_type: 'TYPE_INT64', dims: [-1] };

describe('text codec', () => {
  let server: TestServer;
  let cleanup: () => Promise<void>;

  before(async () => {
    const repo = await makeRepository({
      tokens: {
        config: {
          max_batch_size: 4,
          input: [{ name: 'input_ids', ...seq, text: { max_length: 6, attention_mask: 'attention_mask' } }, { name: 'attention_mask', ...seq }],
        },
        versions: { 1: echoModel() },
      },
      no_tokenizer: {
        config: { max_batch_size: 4, input: [{ name: 'input_ids', ...seq, text: { tokenizer: 'missing.json', attention_mask: 'attention_mask' } }, { name: 'attention_mask', ...seq }] },
        versions: { 1: echoModel() },
      },
    });
    await writeFile(join(repo.root, 'tokens', 'tokenizer.json'), JSON.stringify(TOKENIZER));
    cleanup = repo.cleanup;
    server = await startTestServer(repo.root, { strictReadiness: false });
  });

  after(async () => {
    await server.close();
    await cleanup();
  });

  it('tokenises a batch of strings, pads to the longest and fills the attention mask', async () => {
    const answer = await server.post('/v2/models/tokens/infer', {
      inputs: [{ name: 'input_ids', datatype: 'BYTES', shape: [2, 1], data: ['Hello Vireo models', 'world'] }],
    });
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    const byName = Object.fromEntries(answer.body.outputs.map((o: { name: string }) => [o.name, o]));
    // [CLS] hello vireo model ##s [SEP] / [CLS] world [SEP] + padding
    assert.deepEqual(byName.IDS.shape, [2, 6]);
    assert.deepEqual(byName.IDS.data, [5, 2, 4, 7, 8, 6, 5, 3, 6, 0, 0, 0]);
    assert.deepEqual(byName.MASK.data, [1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0]);
  });

  it('cuts long texts to max_length keeping the special tokens, and maps unknown words to [UNK]', async () => {
    const answer = await server.post('/v2/models/tokens/infer', {
      inputs: [{ name: 'input_ids', datatype: 'BYTES', shape: [1], data: ['hello zebra world world world world'] }],
    });
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.deepEqual(answer.body.outputs[0].data, [5, 2, 1, 3, 3, 6]);
  });

  it('refuses invalid UTF-8 with 400', async () => {
    const answer = await server.post('/v2/models/tokens/infer', {
      inputs: [{ name: 'input_ids', datatype: 'BYTES', shape: [1], data: [{ b64: Buffer.from([0x68, 0xc3, 0x28]).toString('base64') }] }],
    });
    assert.equal(answer.status, 400);
    assert.match(answer.body.error, /input "input_ids": element 0 is not valid UTF-8/);
  });

  it('refuses more texts than max_batch_size before decoding or tokenising any', async () => {
    // Five texts for max_batch_size 4, the last not UTF-8: had they been decoded first, that would be the answer.
    const data = ['a', 'b', 'c', 'd', { b64: Buffer.from([0xc3, 0x28]).toString('base64') }];
    const answer = await server.post('/v2/models/tokens/infer', { inputs: [{ name: 'input_ids', datatype: 'BYTES', shape: [5, 1], data }] });
    assert.equal(answer.status, 400, JSON.stringify(answer.body));
    assert.match(answer.body.error, /batch-size must be <= 4 .*5 texts, checked before tokenising/);
  });

  it('fails to load a model whose tokenizer file is missing, with the reason', () => {
    const reason = server.server.repositoryIndex().find((e) => e.name === 'no_tokenizer')?.reason ?? '';
    assert.match(reason, /input "input_ids": text codec: tokenizer: "missing.json" does not exist in the model directory/);
  });
});
