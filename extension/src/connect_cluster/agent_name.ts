// The new agent's name, checked as the user types (kas checks it again with the same rule).
import { validateAgentName } from '../../../agent/shared/agent_config/agent_name';

/** The input box's check: the shared name rule, and not a name kas has already. */
export function agentNameProblem(value: string, existing: readonly string[]): string | undefined {
  const name = value.trim();
  return validateAgentName(name) ?? (existing.includes(name) ? `agent "${name}" exists already: pick it from the list instead` : undefined);
}
