// Generates static protobuf modules (no code generation at run time: workerd forbids it).
// Filled in by the xDS work; a no-op until then.
export async function generateProtos() {}
