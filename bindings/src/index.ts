// pi5-llm-rt for Node: a typed API over the generated koffi bindings of include/pi5_llm_rt.h.
(Symbol as { dispose?: symbol }).dispose ??= Symbol.for('nodejs.dispose');

export { Runtime } from './runtime.js';
export type { RuntimeOptions, RuntimeReport, BackendName, LimitsName, LogLevelName } from './runtime.js';
export { Model, GenerationStream } from './model.js';
export type { LoadModelOptions, ModelInfo, TokenizeOptions, SamplingOptions, GenerateOptions, GenerationResult, StopReason, KvTypeName } from './model.js';
export { applyChatTemplate, fallbackChat } from './chat.js';
export type { ChatMessage, ChatTemplateOptions } from './chat.js';
export { Utf8StreamDecoder, TokenDetokenizer } from './tokenizer.js';
export { Graph, Tensor, GGML_TYPE } from './graph.js';
export type { GraphOptions, GraphPolicyName, ComputeOptions, GraphProfile } from './graph.js';
export { defaultModelPath, loadModel } from './defaults.js';
export { inspectGguf, convertLlama2c, convertGgjt, quantizeModel, synthModel } from './files.js';
export type { FileToolOptions, SynthOptions, SynthArch, SynthPreset } from './files.js';
export { Pi5Error, Pi5DisposedError, Pi5LibraryError, Pi5BusyError } from './errors.js';
export type { Pi5StatusName } from './errors.js';
export { loadLibrary, libraryCandidates, LIBRARY_NAME } from './native.js';
export {
  pi5_status, pi5_backend, pi5_limits_profile, pi5_log_level, pi5_stop_reason, pi5_kv_type,
  PI5_API_VERSION, PI5_API_VERSION_MAJOR, PI5_API_VERSION_MINOR, PI5_API_VERSION_PATCH,
} from '../generated.js';
/** Low-level access: the generated declarations (koffi types, Pi5Native). */
export * as raw from '../generated.js';
