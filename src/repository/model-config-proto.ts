/**
 * Triton's model_config.proto (proto/triton/, the same copy the gRPC frontend serves) as protobufjs
 * reflection: the schema config.pbtxt is parsed against and Triton's form of a config is written by.
 * Loaded once, on first use. The proto folder sits at the package root so src/ and dist/ resolve it alike.
 */
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';

const PROTO_FILE = fileURLToPath(new URL('../../proto/triton/model_config.proto', import.meta.url));

let root: protobuf.Root | undefined;

function loaded(): protobuf.Root {
  if (!root) {
    root = new protobuf.Root();
    // keepCase: the proto's snake_case names are config.pbtxt's, config.yaml's and the REST JSON's.
    root.loadSync(PROTO_FILE, { keepCase: true });
    root.resolveAll();
  }
  return root;
}

/** `inference.ModelConfig`. */
export function modelConfigType(): protobuf.Type {
  return loaded().lookupType('inference.ModelConfig');
}
