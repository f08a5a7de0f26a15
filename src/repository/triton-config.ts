/**
 * Triton's model configuration (model_config.proto) ⇄ Vireo's, generically: a proto field maps onto
 * the config key of the same name, so a key added to the zod schema (model-config.ts) flows through
 * the pbtxt reader, the load request's `config` and the Triton-form output with no code here.
 *
 * - `coerceProtoJson`: protobuf JSON (a load request's `config`, as Triton's clients send it) to the
 *   config's spelling: integers given as strings become numbers, enum numbers become names,
 *   lowerCamelCase JSON names become field names. Keys the proto lacks pass through for zod to judge.
 * - `dropUnimplemented`: fields the proto has and Vireo's schema lacks are removed, each reported once
 *   (by path) for a warning; a valid Triton config is never refused for them, never silently trimmed.
 * - `toTritonForm`: a complete config written as Triton writes one (protobuf JSON with proto field
 *   names, every scalar printed, enums by name, 64-bit integers as numbers as Triton's REST API fixes
 *   them), for `GET /v2/models/{m}/config` and the ModelConfig RPC. Vireo-only keys are left out.
 */
import protobuf from 'protobufjs';
import type { z } from 'zod';
import { parseDataType, tritonSpelling } from '../core/datatypes.js';
import { modelConfigType } from './model-config-proto.js';
import { modelConfigSchema, type ModelConfig } from './model-config.js';

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

const INTEGER_TYPES = new Set(['int32', 'uint32', 'sint32', 'fixed32', 'sfixed32', 'int64', 'uint64', 'sint64', 'fixed64', 'sfixed64']);
const camel = (name: string) => name.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());

// ---- protobuf JSON → config spelling ----

function fieldByJsonName(type: protobuf.Type, key: string): protobuf.Field | undefined {
  return type.fields[key] ?? type.fieldsArray.find((f) => camel(f.name) === key);
}

function coerceScalar(value: unknown, field: protobuf.Field): unknown {
  if (field.resolvedType instanceof protobuf.Enum) {
    return typeof value === 'number' ? (field.resolvedType.valuesById[value] ?? value) : value;
  }
  if (INTEGER_TYPES.has(field.type) && typeof value === 'string' && /^-?\d{1,16}$/.test(value.trim())) {
    const n = Number(value);
    return Number.isSafeInteger(n) ? n : value;
  }
  return value;
}

function coerceValue(value: unknown, field: protobuf.Field): unknown {
  const message = field.resolvedType instanceof protobuf.Type ? field.resolvedType : undefined;
  return message && isObject(value) ? coerceMessage(value, message) : coerceScalar(value, field);
}

function coerceMessage(value: Json, type: protobuf.Type): Json {
  const out: Json = {};
  for (const [key, v] of Object.entries(value)) {
    const field = fieldByJsonName(type, key);
    if (!field) {
      out[key] = v;
      continue;
    }
    if (field.map && isObject(v)) out[field.name] = Object.fromEntries(Object.entries(v).map(([k, x]) => [k, coerceValue(x, field)]));
    else if (field.repeated && Array.isArray(v)) out[field.name] = v.map((x) => coerceValue(x, field));
    else out[field.name] = coerceValue(v, field);
  }
  return out;
}

/** A load request's `config` (protobuf JSON, or Vireo's own spelling) in the config's spelling. */
export function coerceProtoJson(value: Json): Json {
  return coerceMessage(value, modelConfigType());
}

// ---- fields Vireo does not implement ----

type AnyZod = z.ZodType & { _zod: { def: Record<string, unknown> & { type: string } } };

/** The object schemas a zod schema accepts at this level, through optional/default/pipe/union. */
function objectShapes(schema: AnyZod | undefined): Record<string, AnyZod>[] {
  if (!schema) return [];
  const def = schema._zod.def;
  switch (def.type) {
    case 'object': return [def.shape as Record<string, AnyZod>];
    case 'optional': case 'default': case 'prefault': case 'nullable': case 'readonly': case 'catch': case 'nonoptional':
      return objectShapes(def.innerType as AnyZod);
    case 'pipe': return objectShapes(def.in as AnyZod);
    case 'union': return (def.options as AnyZod[]).flatMap(objectShapes);
    default: return [];
  }
}

function unwrapTo(schema: AnyZod | undefined, kind: 'array' | 'record'): AnyZod | undefined {
  if (!schema) return undefined;
  const def = schema._zod.def;
  if (def.type === kind) return (kind === 'array' ? def.element : def.valueType) as AnyZod;
  if (['optional', 'default', 'prefault', 'nullable', 'readonly', 'catch', 'nonoptional'].includes(def.type)) return unwrapTo(def.innerType as AnyZod, kind);
  if (def.type === 'pipe') return unwrapTo(def.in as AnyZod, kind);
  return undefined;
}

function pruneMessage(value: Json, type: protobuf.Type, schema: AnyZod | undefined, path: string, dropped: Set<string>): Json {
  const shapes = objectShapes(schema);
  if (shapes.length === 0) return value; // not an object schema here (e.g. a transform): zod judges
  const out: Json = {};
  for (const [key, v] of Object.entries(value)) {
    const field = type.fields[key];
    const sub = shapes.find((s) => key in s)?.[key];
    const where = path ? `${path}.${key}` : key;
    if (field && !sub) {
      dropped.add(where);
      continue;
    }
    const message = field?.resolvedType instanceof protobuf.Type ? field.resolvedType : undefined;
    if (!field || !message) {
      out[key] = v;
    } else if (field.map && isObject(v)) {
      const valueSchema = unwrapTo(sub, 'record');
      out[key] = Object.fromEntries(Object.entries(v).map(([k, x]) => [k, isObject(x) ? pruneMessage(x, message, valueSchema, `${where}[]`, dropped) : x]));
    } else if (field.repeated && Array.isArray(v)) {
      const element = unwrapTo(sub, 'array');
      out[key] = v.map((x) => (isObject(x) ? pruneMessage(x, message, element, `${where}[]`, dropped) : x));
    } else {
      out[key] = isObject(v) ? pruneMessage(v, message, sub, where, dropped) : v;
    }
  }
  return out;
}

/**
 * Removes the fields Triton's proto has and Vireo's schema does not; returns what remains and the
 * removed fields' paths (`input[].is_shape_tensor`), each once.
 */
export function dropUnimplemented(raw: Json): { config: Json; dropped: string[] } {
  const dropped = new Set<string>();
  const config = pruneMessage(raw, modelConfigType(), modelConfigSchema as unknown as AnyZod, '', dropped);
  return { config, dropped: [...dropped] };
}

// ---- config → Triton's form ----

function enumName(value: unknown, e: protobuf.Enum): unknown {
  if (typeof value === 'number') return e.valuesById[value] ?? value;
  if (typeof value !== 'string' || e.values[value] !== undefined) return value;
  if (e.name === 'DataType') {
    const dt = parseDataType(value);
    if (dt) return tritonSpelling(dt);
  }
  return value;
}

function defaultOf(field: protobuf.Field): unknown {
  if (field.resolvedType instanceof protobuf.Enum) return Object.keys(field.resolvedType.values)[0];
  if (field.type === 'string') return '';
  if (field.type === 'bytes') return '';
  if (field.type === 'bool') return false;
  return 0;
}

function writeValue(value: unknown, field: protobuf.Field): unknown {
  const resolved = field.resolvedType;
  if (resolved instanceof protobuf.Type) {
    // Vireo's parameters may be plain values; Triton's are ModelParameter messages.
    if (resolved.name === 'ModelParameter' && !isObject(value)) return { string_value: String(value) };
    return isObject(value) ? writeMessage(value, resolved) : value;
  }
  if (resolved instanceof protobuf.Enum) return enumName(value, resolved);
  if (INTEGER_TYPES.has(field.type) || field.type === 'float' || field.type === 'double') return Number(value);
  if (field.type === 'bool') return Boolean(value);
  return String(value);
}

function writeMessage(value: Json, type: protobuf.Type): Json {
  const out: Json = {};
  for (const field of type.fieldsArray) {
    const v = value[field.name];
    if (field.map) {
      out[field.name] = isObject(v) ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, writeValue(x, field)])) : {};
    } else if (field.repeated) {
      out[field.name] = Array.isArray(v) ? v.map((x) => writeValue(x, field)) : [];
    } else if (v !== undefined && v !== null) {
      out[field.name] = writeValue(v, field);
    } else if (!(field.resolvedType instanceof protobuf.Type) && !field.partOf) {
      // Protobuf JSON with always_print_primitive_fields, as Triton prints: unset scalars show their default.
      out[field.name] = defaultOf(field);
    }
  }
  return out;
}

/** The configuration as Triton writes it (protobuf JSON of `inference.ModelConfig`). */
export function toTritonForm(config: ModelConfig): Json {
  const backend = config.backend === 'onnx' ? 'onnxruntime' : config.backend;
  const platform = config.platform ?? (config.backend === 'onnx' ? 'onnxruntime_onnx' : '');
  return writeMessage({ ...config, backend, platform } as unknown as Json, modelConfigType());
}
