import type { ListenerList, Listener } from './modserver';

export function listenerList(): ListenerList {
  const listeners: Listener[] = [];
  return {
    add: (listener) => listeners.push(listener),
    find: (name) => listeners.find((l) => l.name === name),
    all: () => [...listeners],
  };
}
