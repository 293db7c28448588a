// Several kas replicas behind one address (kascfg has a redis section): each publishes the
// tunnels it holds, routes requests to whichever replica holds an idle tunnel, and shares the
// agent connection rate limit. Without redis the module does nothing.
import type { KasModule } from '../../module/modserver';
import { joinReplicas } from './join';

export const replicasModule: KasModule = {
  name: 'replicas',
  async start(context) {
    if (context.config.redis) return joinReplicas(context, context.config.redis);
  },
};
