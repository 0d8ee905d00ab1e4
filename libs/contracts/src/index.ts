export { HANDOVER, HEADERS, JETSTREAM, QUEUE, SERVICES, SUBJECTS, VERSION, SET_NAME, checkSetName, refinerEpsSubject, setSubject, type ServiceKey, type SetStage } from './subjects.js';
export { PlatformError, STATUS, codeForStatus, type ErrorCode } from './errors.js';
export {
  decodeMessage,
  encodeMessage,
  float32,
  int32,
  maxItemsPerMessage,
  type TensorMap,
  type WireDtype,
  type WireMessage,
  type WireTensor,
} from './wire.js';
export type { EncodeParams, ProgressEvent, RefineParams, ServiceFailure } from './messages.js';
export {
  NATS_IDENTITIES,
  inboxPrefixOf,
  natsPermissions,
  type NatsIdentity,
  type NatsPermissions,
  type PermissionOptions,
  type ResponsePermission,
} from './permissions.js';
