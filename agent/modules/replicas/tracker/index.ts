export { connectRedis, RedisConfigError } from './redis_client';
export { SharedConnectionRateLimiter } from './rate_limit';
export { TunnelTracker, type TunnelTrackerOptions, type LocalAgentState, type ReplicaRecord, type RegisteredAgent } from './tracker';
