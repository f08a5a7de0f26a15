/**
 * The request a benchmark client sends for a workload, in JSON or in the binary tensor extension
 * (what Triton's own clients and perf_analyzer send by default): a JSON header, then each input's
 * raw little-endian bytes, outputs asked for as binary.
 */
export type Wire = 'json' | 'binary';

export interface OipInput { name: string; datatype: 'FP32' | 'INT32'; shape: number[]; data: number[] }

export interface EncodedRequest { body: Buffer; headers: Record<string, string> }

export function encodeRequest(inputs: OipInput[], wire: Wire): EncodedRequest {
  if (wire === 'json') return { body: Buffer.from(JSON.stringify({ inputs })), headers: { 'content-type': 'application/json' } };
  const raws = inputs.map((input) => {
    const typed = input.datatype === 'FP32' ? Float32Array.from(input.data) : Int32Array.from(input.data);
    return Buffer.from(typed.buffer, typed.byteOffset, typed.byteLength);
  });
  const header = Buffer.from(JSON.stringify({
    inputs: inputs.map(({ name, datatype, shape }, i) => ({ name, datatype, shape, parameters: { binary_data_size: raws[i]!.length } })),
    parameters: { binary_data_output: true },
  }));
  return {
    body: Buffer.concat([header, ...raws]),
    headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(header.length) },
  };
}
