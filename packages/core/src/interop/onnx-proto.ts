import protobuf from 'protobufjs';

/**
 * The part of ONNX's `onnx/onnx.proto` (proto2, package `onnx`) that a model file with float tensors needs:
 * ModelProto, GraphProto, NodeProto, AttributeProto, TensorProto, ValueInfoProto, TypeProto.Tensor,
 * TensorShapeProto and OperatorSetIdProto. Field numbers and types are the specification's; fields not listed
 * are not written (an absent optional field reads as unset).
 */
const ONNX_PROTO_SUBSET = `
syntax = "proto2";
package onnx;
message AttributeProto {
  optional string name = 1;
  optional int32 type = 20;
  optional float f = 2;
  optional int64 i = 3;
  optional bytes s = 4;
  repeated float floats = 7;
  repeated int64 ints = 8;
}
message ValueInfoProto {
  optional string name = 1;
  optional TypeProto type = 2;
  optional string doc_string = 3;
}
message NodeProto {
  repeated string input = 1;
  repeated string output = 2;
  optional string name = 3;
  optional string op_type = 4;
  optional string domain = 7;
  repeated AttributeProto attribute = 5;
}
message StringStringEntryProto {
  optional string key = 1;
  optional string value = 2;
}
message OperatorSetIdProto {
  optional string domain = 1;
  optional int64 version = 2;
}
message ModelProto {
  optional int64 ir_version = 1;
  repeated OperatorSetIdProto opset_import = 8;
  optional string producer_name = 2;
  optional string producer_version = 3;
  optional string domain = 4;
  optional int64 model_version = 5;
  optional string doc_string = 6;
  optional GraphProto graph = 7;
  repeated StringStringEntryProto metadata_props = 14;
}
message GraphProto {
  repeated NodeProto node = 1;
  optional string name = 2;
  repeated TensorProto initializer = 5;
  optional string doc_string = 10;
  repeated ValueInfoProto input = 11;
  repeated ValueInfoProto output = 12;
}
message TensorProto {
  repeated int64 dims = 1;
  optional int32 data_type = 2;
  optional string name = 8;
  optional bytes raw_data = 9;
}
message TensorShapeProto {
  message Dimension {
    oneof value {
      int64 dim_value = 1;
      string dim_param = 2;
    }
  }
  repeated Dimension dim = 1;
}
message TypeProto {
  message Tensor {
    optional int32 elem_type = 1;
    optional TensorShapeProto shape = 2;
  }
  oneof value {
    Tensor tensor_type = 1;
  }
}
`;

/** `TensorProto.DataType.FLOAT`. */
export const ONNX_FLOAT = 1;
/** `AttributeProto.AttributeType` values used here. */
export const ONNX_ATTR = { FLOAT: 1, INT: 2, STRING: 3, INTS: 7 } as const;

let modelType: protobuf.Type | null = null;

/**
 * Serialise an ONNX `ModelProto` given as a plain object with the specification's field names (camelCase as
 * protobufjs spells them: `irVersion`, `opsetImport`, `graph.initializer[].rawData`, ...).
 * @throws Error when the object does not fit the schema (a programming error, not user input)
 */
export function encodeOnnxModel(model: Record<string, unknown>): Uint8Array {
  modelType ??= protobuf.parse(ONNX_PROTO_SUBSET, { keepCase: false }).root.lookupType('onnx.ModelProto');
  const problem = modelType.verify(model);
  if (problem) throw new Error(`ONNX model does not fit onnx.proto: ${problem}`);
  return modelType.encode(modelType.fromObject(model)).finish();
}

/** Parse ONNX model bytes back into a plain object (field names as in {@link encodeOnnxModel}); for tests and tools. */
export function decodeOnnxModel(bytes: Uint8Array): Record<string, unknown> {
  modelType ??= protobuf.parse(ONNX_PROTO_SUBSET, { keepCase: false }).root.lookupType('onnx.ModelProto');
  return modelType.toObject(modelType.decode(bytes), { longs: Number, bytes: Array, defaults: false }) as Record<string, unknown>;
}
