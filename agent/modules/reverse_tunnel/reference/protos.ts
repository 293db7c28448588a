// The GitLab agent's own wire (its .proto files' packages, messages, field names and numbers),
// written out here as our own proto text: kas serves the reference's services with it, so an agent
// built from the reference's .proto files talks to our kas. One constant per reference file;
// imports are left out because all of them are parsed into one protobufjs root. Validation
// options of the reference are checked in code (kas_translator.ts), not declared here.
import protobuf from 'protobufjs';

/** google/protobuf/any.proto, google/protobuf/duration.proto, google/rpc/status.proto. */
export const GOOGLE_PROTO = `
syntax = "proto3";
package google.protobuf;
message Any { string type_url = 1; bytes value = 2; }
message Duration { int64 seconds = 1; int32 nanos = 2; }
`;

export const GOOGLE_RPC_PROTO = `
syntax = "proto3";
package google.rpc;
message Status { int32 code = 1; string message = 2; repeated google.protobuf.Any details = 3; }
`;

/** internal/tool/prototool/prototool.proto */
export const PROTOTOOL_PROTO = `
syntax = "proto3";
package gitlab.agent.prototool;
message Values { repeated string value = 1; }
message HttpRequest {
  string method = 1;
  map<string, Values> header = 2;
  string url_path = 3;
  map<string, Values> query = 4;
}
message HttpResponse {
  int32 status_code = 1;
  string status = 2;
  map<string, Values> header = 3;
}
`;

/** internal/tool/grpctool/grpctool.proto */
export const GRPCTOOL_PROTO = `
syntax = "proto3";
package gitlab.agent.grpctool;
message HttpRequest {
  message Header {
    gitlab.agent.prototool.HttpRequest request = 1;
    google.protobuf.Any extra = 2;
    optional int64 content_length = 3;
  }
  message Data { bytes data = 1; }
  message Trailer {}
  message UpgradeData { bytes data = 1; }
  oneof message {
    Header header = 1;
    Data data = 2;
    Trailer trailer = 3;
    UpgradeData upgradeData = 4;
  }
}
message HttpResponse {
  message Header { gitlab.agent.prototool.HttpResponse response = 1; }
  message Data { bytes data = 1; }
  message Trailer {}
  message UpgradeData { bytes data = 1; }
  oneof message {
    Header header = 1;
    Data data = 2;
    Trailer trailer = 3;
    UpgradeData upgradeData = 4;
  }
}
`;

/** internal/module/reverse_tunnel/info/info.proto */
export const TUNNEL_INFO_PROTO = `
syntax = "proto3";
package gitlab.agent.reverse_tunnel.info;
message Method { string name = 1; }
message Service { string name = 1; repeated Method methods = 2; }
message AgentDescriptor { repeated Service services = 1; }
`;

/** internal/module/reverse_tunnel/rpc/rpc.proto */
export const REVERSE_TUNNEL_PROTO = `
syntax = "proto3";
package gitlab.agent.reverse_tunnel.rpc;
message Descriptor { gitlab.agent.reverse_tunnel.info.AgentDescriptor agent_descriptor = 1; }
message Header { map<string, gitlab.agent.prototool.Values> meta = 1; }
message Message { bytes data = 1; }
message Trailer { map<string, gitlab.agent.prototool.Values> meta = 1; }
message Error { google.rpc.Status status = 1; }
message ConnectRequest {
  oneof msg {
    Descriptor descriptor = 1;
    Header header = 2;
    Message message = 3;
    Trailer trailer = 4;
    Error error = 5;
  }
}
message RequestInfo {
  string method_name = 1;
  map<string, gitlab.agent.prototool.Values> meta = 2;
}
message CloseSend {}
message ConnectResponse {
  oneof msg {
    RequestInfo request_info = 1;
    Message message = 2;
    CloseSend close_send = 3;
  }
}
service ReverseTunnel {
  rpc Connect(stream ConnectRequest) returns (stream ConnectResponse);
}
`;

/** internal/module/kubernetes_api/rpc/rpc.proto */
export const KUBERNETES_API_PROTO = `
syntax = "proto3";
package gitlab.agent.kubernetes_api.rpc;
service KubernetesApi {
  rpc MakeRequest(stream gitlab.agent.grpctool.HttpRequest) returns (stream gitlab.agent.grpctool.HttpResponse);
}
message HeaderExtra { ImpersonationConfig imp_config = 1; }
message ImpersonationConfig {
  string username = 1;
  repeated string groups = 2;
  string uid = 3;
  repeated ExtraKeyVal extra = 4;
}
message ExtraKeyVal { string key = 1; repeated string val = 2; }
`;

/** pkg/entity/entity.proto (the part the agent protocol uses). */
export const ENTITY_PROTO = `
syntax = "proto3";
package gitlab.agent.entity;
message AgentMeta {
  string version = 1;
  string commit_id = 2;
  string pod_namespace = 3;
  string pod_name = 4;
  KubernetesVersion kubernetes_version = 5;
}
message KubernetesVersion {
  string major = 1;
  string minor = 2;
  string git_version = 3;
  string platform = 4;
}
`;

/** pkg/agentcfg/agentcfg.proto: AgentConfiguration and what it holds. */
export const AGENTCFG_PROTO = `
syntax = "proto3";
package gitlab.agent.agentcfg;
message PathCF { string glob = 1; }
message GitRefCF {
  oneof ref {
    string tag = 1;
    string branch = 2;
    string commit = 3;
  }
}
message ManifestProjectCF {
  optional string id = 1;
  reserved 2, 3;
  string default_namespace = 4;
  repeated PathCF paths = 5;
  google.protobuf.Duration reconcile_timeout = 6;
  string dry_run_strategy = 7;
  oneof prune_oneof { bool prune = 8; }
  google.protobuf.Duration prune_timeout = 9;
  string prune_propagation_policy = 10;
  string inventory_policy = 11;
  GitRefCF ref = 12;
}
message GitopsCF {
  reserved 2;
  repeated ManifestProjectCF manifest_projects = 1;
}
enum log_level_enum {
  info = 0;
  debug = 1;
  warn = 2;
  error = 3;
}
message LoggingCF {
  log_level_enum level = 1;
  optional log_level_enum grpc_level = 2;
}
message GoogleProfilerCF {
  bool enabled = 1;
  string project_id = 2;
  string credentials_file = 3;
  bool debug_logging = 4;
}
message ObservabilityCF {
  LoggingCF logging = 1;
  GoogleProfilerCF google_profiler = 2;
}
message CiAccessAsAgentCF {}
message CiAccessAsCiJobCF {}
message ExtraKeyValCF { string key = 1; repeated string val = 2; }
message CiAccessAsImpersonateCF {
  string username = 1;
  repeated string groups = 2;
  string uid = 3;
  repeated ExtraKeyValCF extra = 4;
}
message CiAccessAsCF {
  oneof as {
    CiAccessAsAgentCF agent = 1;
    CiAccessAsImpersonateCF impersonate = 2;
    CiAccessAsCiJobCF ci_job = 3;
  }
}
message CiAccessProjectCF {
  string id = 1;
  string default_namespace = 2;
  CiAccessAsCF access_as = 3;
  repeated string environments = 4;
}
message CiAccessGroupCF {
  string id = 1;
  string default_namespace = 2;
  CiAccessAsCF access_as = 3;
  repeated string environments = 4;
}
message CiAccessCF {
  repeated CiAccessProjectCF projects = 1;
  repeated CiAccessGroupCF groups = 2;
}
message ContainerScanningFilter {
  repeated string namespaces = 1;
  repeated string resources = 2;
  repeated string containers = 3;
  repeated string kinds = 4;
}
message VulnerabilityReport {
  repeated string namespaces = 1;
  repeated ContainerScanningFilter filters = 2;
}
message Resource { string cpu = 1; string memory = 2; }
message ResourceRequirements { Resource limits = 1; Resource requests = 2; }
message ContainerScanningCF {
  VulnerabilityReport vulnerability_report = 1;
  string cadence = 2;
  ResourceRequirements resource_requirements = 3;
}
message GitLabWorkspacesProxy { string namespace = 1; }
message WorkspaceNetworkPolicy { optional bool enabled = 1; }
message RemoteDevelopmentCF {
  bool enabled = 1;
  string dns_zone = 2;
  google.protobuf.Duration partial_sync_interval = 3;
  google.protobuf.Duration full_sync_interval = 4;
  GitLabWorkspacesProxy gitlab_workspaces_proxy = 5;
  WorkspaceNetworkPolicy network_policy = 6;
}
message FluxCF { string webhook_receiver_url = 1; }
message AgentConfiguration {
  GitopsCF gitops = 1;
  ObservabilityCF observability = 2;
  reserved 3;
  int64 agent_id = 4;
  int64 project_id = 5;
  CiAccessCF ci_access = 6;
  ContainerScanningCF container_scanning = 7;
  string project_path = 8;
  RemoteDevelopmentCF remote_development = 9;
  FluxCF flux = 10;
  string gitlab_external_url = 11;
}
`;

/** internal/module/agent_configuration/rpc/rpc.proto */
export const AGENT_CONFIGURATION_PROTO = `
syntax = "proto3";
package gitlab.agent.agent_configuration.rpc;
message ConfigurationRequest {
  string commit_id = 1;
  gitlab.agent.entity.AgentMeta agent_meta = 2;
  bool skip_register = 3;
}
message ConfigurationResponse {
  gitlab.agent.agentcfg.AgentConfiguration configuration = 1;
  string commit_id = 2;
}
service AgentConfiguration {
  rpc GetConfiguration(ConfigurationRequest) returns (stream ConfigurationResponse);
}
`;

/** internal/module/agent_registrar/rpc/rpc.proto (newer agents register each replica with it). */
export const AGENT_REGISTRAR_PROTO = `
syntax = "proto3";
package gitlab.agent.agent_registrar.rpc;
message RegisterRequest {
  gitlab.agent.entity.AgentMeta agent_meta = 1;
  int64 pod_id = 2;
}
message RegisterResponse {}
service AgentRegistrar {
  rpc Register(RegisterRequest) returns (RegisterResponse);
}
`;

/** Every file above, in dependency order. */
export const REFERENCE_PROTO_FILES: Readonly<Record<string, string>> = {
  'google/protobuf/any_duration.proto': GOOGLE_PROTO,
  'google/rpc/status.proto': GOOGLE_RPC_PROTO,
  'internal/tool/prototool/prototool.proto': PROTOTOOL_PROTO,
  'internal/tool/grpctool/grpctool.proto': GRPCTOOL_PROTO,
  'internal/module/reverse_tunnel/info/info.proto': TUNNEL_INFO_PROTO,
  'internal/module/reverse_tunnel/rpc/rpc.proto': REVERSE_TUNNEL_PROTO,
  'internal/module/kubernetes_api/rpc/rpc.proto': KUBERNETES_API_PROTO,
  'pkg/entity/entity.proto': ENTITY_PROTO,
  'pkg/agentcfg/agentcfg.proto': AGENTCFG_PROTO,
  'internal/module/agent_configuration/rpc/rpc.proto': AGENT_CONFIGURATION_PROTO,
  'internal/module/agent_registrar/rpc/rpc.proto': AGENT_REGISTRAR_PROTO,
};

/** All reference files in one root (field names as written: snake_case, as the reference's JSON). */
export function referenceRoot(options: { keepCase?: boolean } = {}): protobuf.Root {
  const root = new protobuf.Root();
  for (const text of Object.values(REFERENCE_PROTO_FILES)) protobuf.parse(text, root, { keepCase: options.keepCase ?? false });
  root.resolveAll();
  return root;
}
